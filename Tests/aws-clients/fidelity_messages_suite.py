"""Issue 20, points 1.6, 1.7, 1.8 and 1.10: the order of checks, the codes and the messages AWS
KMS answers with, through boto3 (and raw signed requests where the body itself is the point).
Each message asserted is AWS's where it is documented or was observed; where AWS's exact text is
unknown, the test says so and asserts the code only. Run by
Tests/KMSServerTests/FidelityMessagesTests.swift with KMS_AWS_ENDPOINT, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY (an admin of account 111122223333) and KMS_OTHER_ACCESS_KEY_ID /
KMS_OTHER_SECRET_ACCESS_KEY (a principal of the same account without any permission)."""
import base64
import http.client
import json
import os
import unittest
import uuid
from urllib.parse import urlparse

import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from kms_clients import kms_client, unprivileged_client

ACCOUNT = "111122223333"
REGION = "us-east-1"


kms = kms_client(validate=False)
other = unprivileged_client(validate=False)


def raw(target, body):
    """POSTs a signed AWS JSON request; the status and the JSON body exactly as sent."""
    endpoint = urlparse(os.environ["KMS_AWS_ENDPOINT"])
    request = AWSRequest(method="POST", url=os.environ["KMS_AWS_ENDPOINT"] + "/", data=json.dumps(body), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{target}",
    })
    SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]), "kms", REGION) \
        .add_auth(request)
    connection = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=30)
    connection.request("POST", "/", body=request.body, headers=dict(request.headers.items()))
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, json.loads(payload)


def create(spec="SYMMETRIC_DEFAULT", usage=None, **extra):
    if usage:
        extra["KeyUsage"] = usage
    return kms.create_key(KeySpec=spec, **extra)["KeyMetadata"]


class Refusals(unittest.TestCase):
    def refused(self, code, message, call, *args, status=400, **kwargs):
        """Calls and asserts AWS's code, exact message (None: the message is not asserted) and HTTP status."""
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(*args, **kwargs)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        if message is not None:
            self.assertEqual(error.get("Message", ""), message, error)
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        return error


class OrderOfChecks(Refusals):
    """1.6"""

    def test_rotate_on_demand_checks_the_state_before_the_spec(self):
        rsa = create("RSA_2048", "SIGN_VERIFY")
        kms.disable_key(KeyId=rsa["KeyId"])
        self.refused("DisabledException", f"{rsa['Arn']} is disabled.", kms.rotate_key_on_demand, KeyId=rsa["KeyId"])
        pending = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
        self.refused("KMSInvalidStateException", f"{pending['Arn']} is pending import.",
                     kms.rotate_key_on_demand, KeyId=pending["KeyId"])
        enabled = create("RSA_2048", "SIGN_VERIFY")
        # AWS's text for an asymmetric key is not documented: the code is.
        self.refused("UnsupportedOperationException", None, kms.rotate_key_on_demand, KeyId=enabled["KeyId"])

    def test_import_without_expiration_model_needs_valid_to(self):
        key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                               WrappingKeySpec="RSA_2048")
        self.refused("ValidationException", "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
                     kms.import_key_material, KeyId=key, ImportToken=params["ImportToken"],
                     EncryptedKeyMaterial=b"\x00" * 256)

    def test_an_hmac_key_named_for_a_symmetric_ciphertext_is_the_incorrect_key(self):
        symmetric = create()["KeyId"]
        hmac = create("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"]
        blob = kms.encrypt(KeyId=symmetric, Plaintext=b"secret")["CiphertextBlob"]
        # AWS's text for IncorrectKeyException is not asserted: the code is the point.
        self.refused("IncorrectKeyException", None, kms.decrypt, CiphertextBlob=blob, KeyId=hmac)
        self.refused("IncorrectKeyException", None, kms.re_encrypt, CiphertextBlob=blob, SourceKeyId=hmac,
                     DestinationKeyId=symmetric)


class Messages(Refusals):
    """1.7"""

    def test_invalid_key_usage_names_the_operation(self):
        signing = create("ECC_NIST_P256", "SIGN_VERIFY")
        self.refused("InvalidKeyUsageException",
                     f"{signing['Arn']} key usage is SIGN_VERIFY which is not valid for Encrypt.",
                     kms.encrypt, KeyId=signing["KeyId"], Plaintext=b"x")
        symmetric = create()
        self.refused("InvalidKeyUsageException",
                     f"{symmetric['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for Sign.",
                     kms.sign, KeyId=symmetric["KeyId"], Message=b"x", SigningAlgorithm="ECDSA_SHA_256")
        self.refused("InvalidKeyUsageException",
                     f"{symmetric['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.",
                     kms.generate_mac, KeyId=symmetric["KeyId"], Message=b"x", MacAlgorithm="HMAC_SHA_256")
        self.refused("InvalidKeyUsageException",
                     f"{signing['Arn']} key usage is SIGN_VERIFY which is not valid for GenerateDataKey.",
                     kms.generate_data_key, KeyId=signing["KeyId"], KeySpec="AES_256")

    def test_a_missing_key_is_named_by_its_arn(self):
        missing = str(uuid.uuid4())
        self.refused("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist",
                     kms.describe_key, KeyId=missing)
        self.refused("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist",
                     kms.encrypt, KeyId=missing, Plaintext=b"x")

    def test_bad_ciphertexts_signatures_and_macs_carry_no_message(self):
        symmetric = create()["KeyId"]
        blob = bytearray(kms.encrypt(KeyId=symmetric, Plaintext=b"secret")["CiphertextBlob"])
        blob[-1] ^= 1
        status, body = raw("Decrypt", {"CiphertextBlob": base64.b64encode(bytes(blob)).decode()})
        self.assertEqual((status, body), (400, {"__type": "InvalidCiphertextException"}))
        signing = create("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
        status, body = raw("Verify", {
            "KeyId": signing, "Message": base64.b64encode(b"m").decode(), "SigningAlgorithm": "ECDSA_SHA_256",
            "Signature": base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode(),
        })
        self.assertEqual((status, body), (400, {"__type": "KMSInvalidSignatureException"}))
        hmac = create("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"]
        status, body = raw("VerifyMac", {
            "KeyId": hmac, "Message": base64.b64encode(b"m").decode(), "MacAlgorithm": "HMAC_SHA_256",
            "Mac": base64.b64encode(b"\x00" * 32).decode(),
        })
        self.assertEqual((status, body), (400, {"__type": "KMSInvalidMacException"}))
        # boto3 still raises its classes, with an empty message.
        self.refused("InvalidCiphertextException", "", kms.decrypt, CiphertextBlob=bytes(blob))

    def test_digest_length_and_rsa_plaintext_bounds(self):
        signing = create("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
        self.refused("ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256.",
                     kms.sign, KeyId=signing, Message=b"\x00" * 31, MessageType="DIGEST",
                     SigningAlgorithm="ECDSA_SHA_256")
        rsa = create("RSA_2048", "ENCRYPT_DECRYPT")["KeyId"]
        self.refused("ValidationException",
                     "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.",
                     kms.encrypt, KeyId=rsa, Plaintext=b"\x00" * 191, EncryptionAlgorithm="RSAES_OAEP_SHA_256")

    def test_tag_messages(self):
        key = create()["KeyId"]
        self.refused("TagException", "Tags beginning with aws: are reserved",
                     kms.tag_resource, KeyId=key, Tags=[{"TagKey": "aws:team", "TagValue": "x"}])
        self.refused("TagException", "Duplicate tag keys", kms.tag_resource, KeyId=key,
                     Tags=[{"TagKey": "team", "TagValue": "a"}, {"TagKey": "team", "TagValue": "b"}])
        self.refused("TagException", "Tags beginning with aws: are reserved",
                     kms.create_key, Tags=[{"TagKey": "AWS:team", "TagValue": "x"}])

    def test_hmac_algorithm_and_key_spec(self):
        key = create("HMAC_224", "GENERATE_VERIFY_MAC")["KeyId"]
        self.refused("InvalidKeyUsageException", "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.",
                     kms.generate_mac, KeyId=key, Message=b"x", MacAlgorithm="HMAC_SHA_256")

    def test_import_into_an_aws_kms_key(self):
        key = create()
        self.refused("UnsupportedOperationException",
                     f"{key['Arn']} origin is AWS_KMS which is not valid for this operation.",
                     kms.get_parameters_for_import, KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                     WrappingKeySpec="RSA_2048")

    def test_generate_random_needs_a_number_of_bytes(self):
        self.refused("ValidationException", "NumberOfBytes is required.", kms.generate_random)

    def test_key_usage_is_required_except_for_symmetric_keys(self):
        message = "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
        self.refused("ValidationException", message, kms.create_key, KeySpec="HMAC_256")
        self.refused("ValidationException", message, kms.create_key, KeySpec="ECC_NIST_P256")
        self.assertEqual(kms.create_key(KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]["KeyUsage"], "ENCRYPT_DECRYPT")
        self.refused("ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048",
                     kms.create_key, KeySpec="RSA_2048", KeyUsage="KEY_AGREEMENT")

    def test_the_26th_on_demand_rotation(self):
        key = create()
        for _ in range(25):
            kms.rotate_key_on_demand(KeyId=key["KeyId"])
        self.refused("LimitExceededException",
                     "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations "
                     f"can be performed for this key: {key['Arn']}",
                     kms.rotate_key_on_demand, KeyId=key["KeyId"])

    def test_length_violations_name_the_bound(self):
        status, body = raw("DescribeKey", {"KeyId": ""})
        self.assertEqual((status, body["__type"]), (400, "ValidationException"))
        self.assertEqual(body["message"], "1 validation error detected: Value at 'keyId' failed to satisfy constraint: "
                                          "Member must have length greater than or equal to 1")
        status, body = raw("DescribeKey", {"KeyId": "k" * 2049})
        self.assertEqual((status, body["__type"]), (400, "ValidationException"))
        self.assertEqual(body["message"], "1 validation error detected: Value at 'keyId' failed to satisfy constraint: "
                                          "Member must have length less than or equal to 2048")
        status, body = raw("Encrypt", {"KeyId": create()["KeyId"], "Plaintext": ""})
        self.assertEqual(body["message"], "1 validation error detected: Value at 'plaintext' failed to satisfy "
                                          "constraint: Member must have length greater than or equal to 1")

    def test_messages_tell_an_unauthorized_caller_nothing_about_the_key(self):
        signing = create("ECC_NIST_P256", "SIGN_VERIFY")
        # Authorization comes first: the usage (and the key's ARN in its message) is not told.
        error = self.refused("AccessDeniedException", None, other.encrypt, KeyId=signing["Arn"], Plaintext=b"x")
        self.assertNotIn("SIGN_VERIFY", error["Message"])
        disabled = create("RSA_2048", "SIGN_VERIFY")
        kms.disable_key(KeyId=disabled["KeyId"])
        self.refused("AccessDeniedException", None, other.rotate_key_on_demand, KeyId=disabled["Arn"])


class ArnsAndGrantTokens(Refusals):
    """1.8"""

    def test_a_malformed_arn(self):
        # AWS's exact text is not documented; the code is its model's.
        for bad in [f"arn:aws:kms:{REGION}:{ACCOUNT}:key", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/not-a-uuid",
                    f"arn:aws:kms:{REGION}:12:key/{uuid.uuid4()}", "arn:aws:s3:::bucket"]:
            self.refused("InvalidArnException", None, kms.describe_key, KeyId=bad)
            self.refused("InvalidArnException", None, kms.enable_key, KeyId=bad)
        # Encrypt's model lists no InvalidArnException: a malformed ARN is a key not found there.
        self.refused("NotFoundException", None, kms.encrypt, KeyId=f"arn:aws:kms:{REGION}:{ACCOUNT}:key",
                     Plaintext=b"x")

    def test_grant_tokens_this_service_did_not_issue(self):
        key = create()
        # AWS's exact text is not documented; the code is.
        self.refused("InvalidGrantTokenException", None, kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x",
                     GrantTokens=["AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4Mzc0MWFiYjc5ZDVkOTkzMzZmMjQ4"])
        self.refused("InvalidGrantTokenException", None, kms.describe_key, KeyId=key["KeyId"],
                     GrantTokens=["not a token"])

    def test_grant_tokens_outside_the_models_lengths(self):
        key = create()
        # The model's constraints (at most 10 tokens of 1..8192 characters) are ValidationException, as
        # for every member; botocore itself refuses an empty token before sending it.
        self.refused("ValidationException",
                     "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member "
                     "must satisfy constraint: [Member must have length less than or equal to 8192, Member must "
                     "have length greater than or equal to 1]",
                     kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=["A" * 8193])
        self.refused("ValidationException",
                     "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member "
                     "must have length less than or equal to 10",
                     kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=["A"] * 11)

    def test_describe_key_honours_grant_tokens(self):
        key = create()
        self.refused("AccessDeniedException", None, other.describe_key, KeyId=key["Arn"])
        grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=os.environ["KMS_OTHER_PRINCIPAL_ARN"],
                                 Operations=["DescribeKey"])
        described = other.describe_key(KeyId=key["Arn"], GrantTokens=[grant["GrantToken"]])["KeyMetadata"]
        self.assertEqual(described["Arn"], key["Arn"])


class Reporting(Refusals):
    """1.10"""

    def test_cloudtrail_event_id_is_the_audit_records_id(self):
        key = create()["KeyId"]
        answer = kms.encrypt(KeyId=key, Plaintext=b"x")
        request_id = answer["ResponseMetadata"]["RequestId"]
        usage = kms.get_key_last_usage(KeyId=key)["KeyLastUsage"]
        self.assertEqual(usage["KmsRequestId"], request_id)
        self.assertEqual(usage["CloudTrailEventId"], request_id)

    def test_no_rotation_start_date_once_the_rotation_is_done(self):
        key = create()["KeyId"]
        kms.rotate_key_on_demand(KeyId=key)
        self.assertNotIn("OnDemandRotationStartDate", kms.get_key_rotation_status(KeyId=key))

    def test_dry_run_ignoring_the_ciphertext(self):
        key = create()
        garbage = b"\x01" * 64
        # The API reference lists HTTP 412 for DryRunOperationException.
        self.refused("DryRunOperationException", None, kms.decrypt, CiphertextBlob=garbage, KeyId=key["KeyId"],
                     DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"], status=412)
        self.refused("InvalidCiphertextException", "", kms.decrypt, CiphertextBlob=garbage, KeyId=key["KeyId"],
                     DryRun=True)
        self.refused("AccessDeniedException", None, other.decrypt, CiphertextBlob=garbage, KeyId=key["Arn"],
                     DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
        destination = create()["KeyId"]
        self.refused("DryRunOperationException", None, kms.re_encrypt, CiphertextBlob=garbage,
                     SourceKeyId=key["KeyId"], DestinationKeyId=destination, DryRun=True,
                     DryRunModifiers=["IGNORE_CIPHERTEXT"], status=412)
        # Nothing was decrypted: the key has no recorded use.
        self.assertNotIn("Operation", kms.get_key_last_usage(KeyId=key["KeyId"]).get("KeyLastUsage", {}))


if __name__ == "__main__":
    unittest.main(verbosity=2)
