#!/usr/bin/env python3
"""The recording client of scripts/faults (issue 16's long forms).

record: runs Encrypt, GenerateDataKey, CreateKey, CreateAlias, CreateGrant, PutKeyPolicy and
        TagResource over the AWS JSON API until the stop file appears, and keeps what it was told:
        every acknowledged request id (x-amzn-RequestId), change and ciphertext, every refusal's
        code, the slowest request.
check:  holds kmsd to it: every acknowledged request id is in the audit log (`kms audit list`),
        every acknowledged change exists and no change exists without a record of a success,
        every ciphertext decrypts, `kms audit verify` passes. Prints a summary; exits 1 on any
        violated invariant.
"""
import base64
import collections
import json
import os
import re
import subprocess
import sys
import time

import boto3
import botocore.config
import botocore.exceptions

ROOT_POLICY = ('{"Version":"2012-10-17","Statement":[{"Sid":"faults%d","Effect":"Allow",'
               '"Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}')
ADMIN = "arn:aws:iam::111122223333:user/admin"
DEADLINE = 30.0


def client(endpoint, timeout=20):
    config = botocore.config.Config(
        retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=timeout,
    )
    return boto3.client("kms", endpoint_url="http://" + endpoint, region_name="us-east-1", config=config)


def record(endpoint, state_path, stop_path):
    kms = client(endpoint)
    told = {"requests": {}, "blobs": [], "keys": {}, "aliases": [], "grants": {}, "policies": [], "tags": [],
            "refused": collections.Counter(), "slowest": 0.0, "late": []}
    base = None
    while base is None:
        try:
            base = kms.create_key(Description="faults base")["KeyMetadata"]["KeyId"]
        except Exception:
            time.sleep(1)
    i = 0
    last_save = time.monotonic()
    while not os.path.exists(stop_path):
        i += 1
        steps = [
            ("Encrypt", lambda: kms.encrypt(KeyId=base, Plaintext=b"p%d" % i, EncryptionContext={"n": "r%d" % i})),
            ("GenerateDataKey", lambda: kms.generate_data_key(KeyId=base, NumberOfBytes=32, EncryptionContext={"n": "g%d" % i})),
        ]
        if i % 5 == 0:
            steps += [
                ("CreateKey", lambda: kms.create_key(Description="faults-%d" % i)),
                ("CreateAlias", lambda: kms.create_alias(AliasName="alias/faults-%d" % i, TargetKeyId=told["keys"].get(str(i), base))),
                ("CreateGrant", lambda: kms.create_grant(KeyId=base, GranteePrincipal=ADMIN, Operations=["Decrypt"], Name="faults-%d" % i)),
                ("PutKeyPolicy", lambda: kms.put_key_policy(KeyId=base, PolicyName="default", Policy=ROOT_POLICY % i)),
                ("TagResource", lambda: kms.tag_resource(KeyId=base, Tags=[{"TagKey": "t%d" % (i % 10), "TagValue": str(i)}])),
            ]
        for operation, call in steps:
            started = time.monotonic()
            try:
                answer = call()
            except botocore.exceptions.ClientError as error:
                told["refused"][error.response.get("Error", {}).get("Code", "?")] += 1
                answer = None
            except Exception as error:  # connection refused, read timeout: the link, not kmsd's answer
                told["refused"][type(error).__name__] += 1
                answer = None
            elapsed = time.monotonic() - started
            told["slowest"] = max(told["slowest"], elapsed)
            if elapsed > DEADLINE:
                told["late"].append("%s %d: %.1f s" % (operation, i, elapsed))
            if answer is None:
                time.sleep(0.05)
                continue
            told["requests"][answer["ResponseMetadata"]["RequestId"]] = "%s %d" % (operation, i)
            if operation == "Encrypt":
                told["blobs"].append([base64.b64encode(answer["CiphertextBlob"]).decode(), {"n": "r%d" % i}, base64.b64encode(b"p%d" % i).decode()])
            elif operation == "GenerateDataKey":
                told["blobs"].append([base64.b64encode(answer["CiphertextBlob"]).decode(), {"n": "g%d" % i}, base64.b64encode(answer["Plaintext"]).decode()])
            elif operation == "CreateKey":
                told["keys"][str(i)] = answer["KeyMetadata"]["KeyId"]
            elif operation == "CreateAlias":
                told["aliases"].append(i)
            elif operation == "CreateGrant":
                told["grants"][str(i)] = answer["GrantId"]
            elif operation == "PutKeyPolicy":
                told["policies"].append(i)
            elif operation == "TagResource":
                told["tags"].append(i)
        if time.monotonic() - last_save > 5:
            save(state_path, told, base)
            last_save = time.monotonic()
    save(state_path, told, base)


def save(path, told, base):
    data = dict(told, base=base, refused=dict(told["refused"]))
    with open(path + ".tmp", "w") as file:
        json.dump(data, file)
    os.replace(path + ".tmp", path)


def listing(call, field, **arguments):
    items, marker = [], None
    while True:
        page = call(**arguments, **({"Marker": marker} if marker else {}))
        items += page[field]
        if not page.get("Truncated"):
            return items
        marker = page["NextMarker"]


def check(endpoint, state_path, kms_cli):
    try:
        return check_invariants(endpoint, state_path, kms_cli)
    except Exception as error:
        # kmsd refusing the checks themselves is a failure to report, not a traceback.
        print("VIOLATED: the checks could not be made: %s: %s" % (type(error).__name__, error))
        print("invariants: not checked")
        return 1


def check_invariants(endpoint, state_path, kms_cli):
    told = json.load(open(state_path))
    kms = client(endpoint, timeout=60)
    violations = []
    # The recorder acts as the admin; kms-bench's load, as a principal of its own, is left out.
    listed = subprocess.run([kms_cli, "audit", "list", "--principal-arn", ADMIN], capture_output=True, text=True)
    if listed.returncode != 0:
        violations.append("kms audit list failed: %s" % listed.stderr.strip()[:300])
    records = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    ids = {record["requestID"] for record in records}
    successes = collections.Counter(record["eventName"] for record in records if "errorCode" not in record)
    contexts = {record["requestParameters"].get("encryptionContext", {}).get("n") for record in records if "errorCode" not in record}

    missing = [label for request, label in told["requests"].items() if request not in ids]
    if missing:
        violations.append("%d of %d acknowledged requests have no audit record, e.g. %s" % (len(missing), len(told["requests"]), missing[:5]))
    unrecorded = [blob[1]["n"] for blob in told["blobs"] if blob[1]["n"] not in contexts]
    if unrecorded:
        violations.append("%d acknowledged crypto requests have no success record, e.g. %s" % (len(unrecorded), unrecorded[:5]))

    # Keys are counted against every principal's recorded creations (kms-bench makes its own).
    creations = subprocess.run([kms_cli, "audit", "list", "--operation", "CreateKey"], capture_output=True, text=True)
    successes["CreateKey"] = sum(1 for line in creations.stdout.splitlines() if line.strip() and "errorCode" not in json.loads(line))
    keys = {key["KeyId"] for key in listing(kms.list_keys, "Keys", Limit=100)}
    lost = [i for i, key in told["keys"].items() if key not in keys]
    if lost:
        violations.append("acknowledged CreateKey, no key: %s" % lost[:5])
    if len(keys) > successes["CreateKey"]:
        violations.append("%d keys but %d recorded creations" % (len(keys), successes["CreateKey"]))
    aliases = {alias["AliasName"] for alias in listing(kms.list_aliases, "Aliases", Limit=100) if alias["AliasName"].startswith("alias/faults-")}
    lost = [i for i in told["aliases"] if "alias/faults-%d" % i not in aliases]
    if lost:
        violations.append("acknowledged CreateAlias, no alias: %s" % lost[:5])
    if len(aliases) > successes["CreateAlias"]:
        violations.append("%d aliases but %d recorded creations" % (len(aliases), successes["CreateAlias"]))
    grants = {grant["GrantId"] for grant in listing(kms.list_grants, "Grants", KeyId=told["base"], Limit=100)}
    lost = [i for i, grant in told["grants"].items() if grant not in grants]
    if lost:
        violations.append("acknowledged CreateGrant, no grant: %s" % lost[:5])
    if len(grants) > successes["CreateGrant"]:
        violations.append("%d grants but %d recorded creations" % (len(grants), successes["CreateGrant"]))
    policy = kms.get_key_policy(KeyId=told["base"], PolicyName="default")["Policy"]
    match = re.search(r'"Sid"\s*:\s*"faults(\d+)"', policy)
    current = int(match.group(1)) if match else 0
    if told["policies"] and current < told["policies"][-1]:
        violations.append("PutKeyPolicy %d was acknowledged; in force: %s" % (told["policies"][-1], current or "the default"))
    if match and current not in told["policies"] and successes["PutKeyPolicy"] <= len(told["policies"]):
        violations.append("PutKeyPolicy %d was refused, yet is in force without a record" % current)
    tags = {tag["TagKey"]: int(tag["TagValue"]) for tag in listing(kms.list_resource_tags, "Tags", KeyId=told["base"])}
    latest = {}
    for i in told["tags"]:
        latest["t%d" % (i % 10)] = i
    lost = [i for key, i in latest.items() if tags.get(key, 0) < i]
    if lost:
        violations.append("acknowledged TagResource not in force: %s" % sorted(lost)[:5])

    undecryptable = 0
    for blob, context, plaintext in told["blobs"]:
        try:
            answer = kms.decrypt(CiphertextBlob=base64.b64decode(blob), EncryptionContext=context)
            if answer["Plaintext"] != base64.b64decode(plaintext):
                undecryptable += 1
        except Exception:
            undecryptable += 1
    if undecryptable:
        violations.append("%d of %d returned ciphertexts do not decrypt" % (undecryptable, len(told["blobs"])))

    verify = subprocess.run([kms_cli, "audit", "verify"], capture_output=True, text=True)
    if verify.returncode != 0:
        violations.append("kms audit verify: %s" % (verify.stdout + verify.stderr).strip()[:300])
    if told["late"]:
        violations.append("requests that outlived the %d s deadline: %s" % (DEADLINE, told["late"][:5]))

    print("recorder: %d acknowledged requests (%d ciphertexts, %d keys, %d aliases, %d grants, %d policies, %d tags); refused: %s; slowest %.1f s"
          % (len(told["requests"]), len(told["blobs"]), len(told["keys"]), len(told["aliases"]), len(told["grants"]),
             len(told["policies"]), len(told["tags"]), told["refused"] or "none", told["slowest"]))
    print("audit log: %d records; %s" % (len(records), (verify.stdout.strip().splitlines() or ["(no output)"])[-1]))
    for violation in violations:
        print("VIOLATED: " + violation)
    print("invariants: %s" % ("all held" if not violations else "%d violated" % len(violations)))
    return 1 if violations else 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "record":
        record(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 5 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        sys.exit("usage: faults-client.py record ENDPOINT STATE STOPFILE | check ENDPOINT STATE KMS_CLI")
