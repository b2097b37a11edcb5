"""boto3 and the aws CLI, unchanged, against kms-agent (issue 19): the application holds no real
credentials (a made-up access key), the agent acts as the pod's principal, which may use one key.

Environment: KMS_AGENT_URL (http://127.0.0.1:PORT), KMS_AGENT_KEY_ID (the key the principal may
use), KMS_AGENT_OTHER_KEY_ID (a key it may not).
"""

import base64
import json
import os
import subprocess
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


def error_code(call):
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "no error"


url = os.environ["KMS_AGENT_URL"]
key = os.environ["KMS_AGENT_KEY_ID"]
other = os.environ["KMS_AGENT_OTHER_KEY_ID"]
kms = boto3.client(
    "kms", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
    aws_secret_access_key="not-a-real-secret", config=Config(retries={"max_attempts": 1}),
)

# The operations the pod's principal may use.
described = kms.describe_key(KeyId=key)["KeyMetadata"]
check(described["KeyId"] == key, "DescribeKey through the agent")
context = {"app": "orders"}
blob = kms.encrypt(KeyId=key, Plaintext=b"card 4111", EncryptionContext=context)["CiphertextBlob"]
plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
check(plain["Plaintext"] == b"card 4111", "Encrypt then Decrypt")
check(plain["KeyId"] == described["Arn"], "Decrypt names the key's ARN")
data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext=context)
check(len(data_key["Plaintext"]) == 32, "GenerateDataKey's plaintext is 32 bytes")
check(kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)["Plaintext"]
      == data_key["Plaintext"], "the data key's blob decrypts to it")

# What it may not: the agent gives the application the pod's rights, no more.
check(error_code(lambda: kms.create_key()) == "AccessDeniedException", "CreateKey is denied")
check(error_code(lambda: kms.encrypt(KeyId=other, Plaintext=b"x")) == "AccessDeniedException",
      "another key is denied")
check(error_code(lambda: kms.schedule_key_deletion(KeyId=key)) == "AccessDeniedException",
      "ScheduleKeyDeletion is denied")
# Bad input gets the service's own answers.
check(error_code(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "other"}))
      == "InvalidCiphertextException", "a wrong context")
check(error_code(lambda: kms.encrypt(KeyId=key, Plaintext=b"x" * 4097)) == "ValidationException",
      "a plaintext over 4096 bytes")
check(error_code(lambda: kms.describe_key(KeyId="alias/none")) == "NotFoundException", "an unknown alias")

# The aws CLI, pointed at the agent by AWS_ENDPOINT_URL_KMS.
environment = dict(os.environ)
environment.update({
    "AWS_ENDPOINT_URL_KMS": url, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "not-a-real-secret", "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
})
environment.pop("AWS_PROFILE", None)


def aws(*arguments):
    run = subprocess.run(["aws", "kms", *arguments, "--output", "json"], env=environment, capture_output=True,
                         text=True, timeout=60)
    return run.returncode, run.stdout, run.stderr


with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"agent-{os.getpid()}.txt"), "wb") as f:
    f.write(b"from the cli")
    path = f.name
status, out, err = aws("encrypt", "--key-id", key, "--plaintext", f"fileb://{path}")
check(status == 0, f"aws kms encrypt: {err}")
if status == 0:
    cli_blob = base64.b64decode(json.loads(out)["CiphertextBlob"])
    with open(path, "wb") as f:
        f.write(cli_blob)
    status, out, err = aws("decrypt", "--ciphertext-blob", f"fileb://{path}")
    check(status == 0 and base64.b64decode(json.loads(out)["Plaintext"]) == b"from the cli", f"aws kms decrypt: {err}")
status, out, err = aws("create-key")
check(status != 0 and "AccessDeniedException" in err, f"aws kms create-key is denied: {err}")
os.unlink(path)

if FAILURES:
    print(f"{len(FAILURES)} failures", flush=True)
    sys.exit(1)
print("agent suite: ok", flush=True)
