"""boto3 against kmsd's AWS JSON endpoint: the shapes, codes and messages of issue 20 §1
(points 1 to 5 and 9), as AWS KMS answers them. Run by Tests/KMSServerTests/FidelityShapesTests.swift
with KMS_AWS_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (an admin of 111122223333).

Where AWS's exact text is not documented, the test says so: those asserts pin our wording, in
AWS's form, so that a change is deliberate."""
import os
import unittest

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from kms_clients import kms_client

ACCOUNT = "111122223333"


kms = kms_client()
# Without botocore's own checks, values its model refuses reach the service.
raw = kms_client(validate=False)

ALGORITHM_LISTS = ["EncryptionAlgorithms", "SigningAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms"]

# The model's enums in its order (botocore's service-2.json), as AWS quotes them.
KEY_SPECS = (
    "RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, "
    "SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87, "
    "ECC_NIST_EDWARDS25519"
)
KEY_USAGES = "SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT"
SIGNING_ALGORITHMS = (
    "RSASSA_PSS_SHA_256, RSASSA_PSS_SHA_384, RSASSA_PSS_SHA_512, RSASSA_PKCS1_V1_5_SHA_256, "
    "RSASSA_PKCS1_V1_5_SHA_384, RSASSA_PKCS1_V1_5_SHA_512, ECDSA_SHA_256, ECDSA_SHA_384, ECDSA_SHA_512, SM2DSA, "
    "ML_DSA_SHAKE_256, ED25519_SHA_512, ED25519_PH_SHA_512"
)
MAC_ALGORITHMS = "HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384, HMAC_SHA_512"
GRANT_OPERATIONS = (
    "Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncryptFrom, ReEncryptTo, Sign, Verify, "
    "GetPublicKey, CreateGrant, RetireGrant, DescribeKey, GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, "
    "GenerateMac, VerifyMac, DeriveSharedSecret"
)

# AWS's predefined aliases, listed before their AWS managed keys exist.
PREDEFINED = [
    "alias/aws/" + name
    for name in [
        "acm", "dynamodb", "ebs", "elasticfilesystem", "es", "glue", "kinesisvideo", "lambda", "rds", "redshift",
        "s3", "secretsmanager", "ssm", "xray",
    ]
]


class Refusal:
    """The code, message and HTTP status of a ClientError."""

    def __init__(self, case, call):
        with case.assertRaises(kms.exceptions.ClientError) as caught:
            call()
        response = caught.exception.response
        self.code = response["Error"]["Code"]
        self.message = response["Error"].get("Message", "")
        self.status = response["ResponseMetadata"]["HTTPStatusCode"]


ONE = "1 validation error detected: "


def enum_error(value, member, allowed):
    return (
        f"Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]"
    )


class KeyMetadataShapes(unittest.TestCase):
    """§1.1: each key carries the algorithm list of its usage only, never an empty one, and
    CurrentKeyMaterialId only for SYMMETRIC_DEFAULT keys with material."""

    def check(self, metadata, present, material):
        for name in ALGORITHM_LISTS:
            if name == present:
                self.assertTrue(metadata[name], f"{name} in {metadata}")
            else:
                self.assertNotIn(name, metadata)
        if material:
            self.assertEqual(len(metadata["CurrentKeyMaterialId"]), 64)
        else:
            self.assertNotIn("CurrentKeyMaterialId", metadata)

    def both(self, present, material, **create):
        created = kms.create_key(**create)["KeyMetadata"]
        self.check(created, present, material)
        described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
        self.check(described, present, material)
        return created

    def test_symmetric(self):
        meta = self.both("EncryptionAlgorithms", True)
        self.assertEqual(meta["EncryptionAlgorithms"], ["SYMMETRIC_DEFAULT"])

    def test_rsa_encryption(self):
        meta = self.both("EncryptionAlgorithms", False, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
        self.assertEqual(meta["EncryptionAlgorithms"], ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
        public = kms.get_public_key(KeyId=meta["KeyId"])
        self.assertEqual(public["EncryptionAlgorithms"], ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
        self.assertNotIn("SigningAlgorithms", public)
        self.assertNotIn("KeyAgreementAlgorithms", public)

    def test_signing(self):
        meta = self.both("SigningAlgorithms", False, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
        self.assertEqual(meta["SigningAlgorithms"], ["ECDSA_SHA_256"])
        public = kms.get_public_key(KeyId=meta["KeyId"])
        self.assertEqual(public["SigningAlgorithms"], ["ECDSA_SHA_256"])
        self.assertNotIn("EncryptionAlgorithms", public)
        self.assertNotIn("KeyAgreementAlgorithms", public)

    def test_key_agreement(self):
        meta = self.both("KeyAgreementAlgorithms", False, KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")
        self.assertEqual(meta["KeyAgreementAlgorithms"], ["ECDH"])
        public = kms.get_public_key(KeyId=meta["KeyId"])
        self.assertEqual(public["KeyAgreementAlgorithms"], ["ECDH"])
        self.assertNotIn("EncryptionAlgorithms", public)
        self.assertNotIn("SigningAlgorithms", public)

    def test_hmac(self):
        meta = self.both("MacAlgorithms", False, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
        self.assertEqual(meta["MacAlgorithms"], ["HMAC_SHA_256"])

    def test_imported_symmetric_key_names_its_material_once_imported(self):
        meta = self.both("EncryptionAlgorithms", False, Origin="EXTERNAL")
        key = meta["KeyId"]
        params = kms.get_parameters_for_import(
            KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
        wrapping = serialization.load_der_public_key(params["PublicKey"])
        wrapped = wrapping.encrypt(
            os.urandom(32),
            padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        kms.import_key_material(
            KeyId=key, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
        self.check(kms.describe_key(KeyId=key)["KeyMetadata"], "EncryptionAlgorithms", True)

    def test_empty_lists_of_list_operations_stay(self):
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        self.assertEqual(kms.list_grants(KeyId=key)["Grants"], [])
        self.assertEqual(kms.list_resource_tags(KeyId=key)["Tags"], [])
        self.assertEqual(kms.list_aliases(KeyId=key)["Aliases"], [])
        self.assertEqual(kms.list_key_rotations(KeyId=key)["Rotations"], [])


class EnumsAndTags(unittest.TestCase):
    """§1.2: a value outside its enum is a ValidationException in AWS's words (the model's order);
    a body of the wrong JSON types stays a SerializationException; tags past the model's
    lengths are ValidationExceptions, 51 tags on CreateKey a TagException."""

    def test_an_unknown_key_spec_or_usage(self):
        refused = Refusal(self, lambda: raw.create_key(KeySpec="RSA_1024"))
        self.assertEqual((refused.status, refused.code), (400, "ValidationException"))
        self.assertEqual(refused.message, ONE + enum_error("RSA_1024", "keySpec", KEY_SPECS))
        refused = Refusal(self, lambda: raw.create_key(KeyUsage="ENCRYPT"))
        self.assertEqual(refused.code, "ValidationException")
        self.assertEqual(refused.message, ONE + enum_error("ENCRYPT", "keyUsage", KEY_USAGES))

    def test_two_unknown_values_are_counted_in_one_answer(self):
        # AWS counts and joins them with "; "; the order of the two is not known, so not asserted.
        refused = Refusal(self, lambda: raw.create_key(KeySpec="RSA_1024", KeyUsage="ENCRYPT"))
        self.assertEqual(refused.code, "ValidationException")
        self.assertTrue(refused.message.startswith("2 validation errors detected: "), refused.message)
        self.assertIn(enum_error("RSA_1024", "keySpec", KEY_SPECS), refused.message)
        self.assertIn(enum_error("ENCRYPT", "keyUsage", KEY_USAGES), refused.message)

    def test_unknown_algorithms(self):
        signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        refused = Refusal(
            self, lambda: raw.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_1")
        )
        self.assertEqual(refused.code, "ValidationException")
        self.assertEqual(
            refused.message,
            "1 validation error detected: " + enum_error("ECDSA_SHA_1", "signingAlgorithm", SIGNING_ALGORITHMS),
        )
        mac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        refused = Refusal(self, lambda: raw.generate_mac(KeyId=mac, Message=b"m", MacAlgorithm="HMAC_SHA_1"))
        self.assertEqual(refused.code, "ValidationException")
        self.assertEqual(
            refused.message, "1 validation error detected: " + enum_error("HMAC_SHA_1", "macAlgorithm", MAC_ALGORITHMS)
        )

    def test_an_unknown_grant_operation(self):
        # A list member: AWS's (Coral's) form names the whole list and wraps the members'
        # constraint; its exact text for KMS is not documented.
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        refused = Refusal(
            self,
            lambda: raw.create_grant(
                KeyId=key, GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/app", Operations=["Encrypt", "Bogus"]
            ),
        )
        self.assertEqual(refused.code, "ValidationException")
        self.assertEqual(
            refused.message,
            "1 validation error detected: Value '[Encrypt, Bogus]' at 'operations' failed to satisfy constraint: "
            f"Member must satisfy constraint: [Member must satisfy enum value set: [{GRANT_OPERATIONS}]]",
        )

    def test_wrong_json_types_stay_serialization_errors(self):
        refused = Refusal(self, lambda: raw.create_key(KeySpec=5))
        self.assertEqual((refused.status, refused.code), (400, "SerializationException"))
        refused = Refusal(self, lambda: raw.create_key(Description=5))
        self.assertEqual(refused.code, "SerializationException")

    def test_tag_lengths(self):
        long_key, long_value = "k" * 129, "v" * 257
        refused = Refusal(self, lambda: kms.create_key(Tags=[{"TagKey": long_key, "TagValue": "v"}]))
        self.assertEqual((refused.status, refused.code), (400, "ValidationException"))
        self.assertEqual(
            refused.message,
            f"1 validation error detected: Value '{long_key}' at 'tags.1.member.tagKey' failed to satisfy "
            "constraint: Member must have length less than or equal to 128",
        )
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        refused = Refusal(
            self,
            lambda: kms.tag_resource(
                KeyId=key, Tags=[{"TagKey": "fine", "TagValue": "v"}, {"TagKey": "value", "TagValue": long_value}]
            ),
        )
        self.assertEqual(refused.code, "ValidationException")
        self.assertEqual(
            refused.message,
            f"1 validation error detected: Value '{long_value}' at 'tags.2.member.tagValue' failed to satisfy "
            "constraint: Member must have length less than or equal to 256",
        )
        refused = Refusal(self, lambda: raw.untag_resource(KeyId=key, TagKeys=[""]))
        self.assertEqual(refused.code, "ValidationException")
        self.assertEqual(
            refused.message,
            "1 validation error detected: Value '' at 'tagKeys.1.member' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1",
        )
        self.assertEqual(kms.list_resource_tags(KeyId=key)["Tags"], [])

    def test_too_many_tags_on_create_key(self):
        tags = [{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)]
        refused = Refusal(self, lambda: kms.create_key(Tags=tags))
        self.assertEqual((refused.status, refused.code, refused.message), (400, "TagException", "Too many tags"))
        fifty = kms.create_key(Tags=tags[:50])["KeyMetadata"]["KeyId"]
        self.assertEqual(len(kms.list_resource_tags(KeyId=fifty)["Tags"]), 50)


class Grants(unittest.TestCase):
    """§1.3 and §1.4: grants name their key by ARN; filters page exactly."""

    def test_grants_name_their_key_by_arn(self):
        meta = kms.create_key()["KeyMetadata"]
        retiring = f"arn:aws:iam::{ACCOUNT}:role/retirer-{meta['KeyId'][:8]}"
        kms.create_grant(
            KeyId=meta["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/app", Operations=["Encrypt"],
            RetiringPrincipal=retiring,
        )
        self.assertEqual([g["KeyId"] for g in kms.list_grants(KeyId=meta["KeyId"])["Grants"]], [meta["Arn"]])
        retirable = kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"]
        self.assertEqual([g["KeyId"] for g in retirable], [meta["Arn"]])

    def test_filters_page_exactly(self):
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        wanted = f"arn:aws:iam::{ACCOUNT}:role/wanted"
        ids = {}
        for i in range(12):
            grantee = wanted if i % 3 == 0 else f"arn:aws:iam::{ACCOUNT}:role/other{i}"
            ids[kms.create_grant(KeyId=key, GranteePrincipal=grantee, Operations=["Decrypt"])["GrantId"]] = grantee
        expected = sorted(g for g, p in ids.items() if p == wanted)

        def pages(**filters):
            found, marker, sizes = [], None, []
            while True:
                extra = {"Marker": marker} if marker else {}
                page = kms.list_grants(KeyId=key, Limit=1, **filters, **extra)
                sizes.append(len(page["Grants"]))
                found += [g["GrantId"] for g in page["Grants"]]
                if not page["Truncated"]:
                    self.assertNotIn("NextMarker", page)
                    return found, sizes
                marker = page["NextMarker"]

        found, sizes = pages(GranteePrincipal=wanted)
        self.assertEqual(sorted(found), expected)
        self.assertEqual(sizes, [1] * len(expected))
        last = max(ids)
        found, sizes = pages(GrantId=last)
        self.assertEqual((found, sizes), ([last], [1]))
        # Both filters at once: the grant, or nothing when its grantee is another.
        found, _ = pages(GrantId=last, GranteePrincipal=ids[last])
        self.assertEqual(found, [last])
        found, _ = pages(GrantId=last, GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/nobody")
        self.assertEqual(found, [])
        every = kms.list_grants(KeyId=key, GranteePrincipal=wanted, Limit=len(expected))
        self.assertEqual((len(every["Grants"]), every["Truncated"]), (len(expected), False))


class Aliases(unittest.TestCase):
    """§1.5 and §1.9."""

    def test_names(self):
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        refused = Refusal(self, lambda: kms.create_alias(AliasName="payments", TargetKeyId=key))
        self.assertEqual((refused.status, refused.code), (400, "ValidationException"))
        self.assertEqual(
            refused.message,
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        )
        refused = Refusal(self, lambda: kms.create_alias(AliasName="alias/has space", TargetKeyId=key))
        self.assertEqual(refused.code, "ValidationException")
        self.assertEqual(
            refused.message,
            "1 validation error detected: Value 'alias/has space' at 'aliasName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        )
        for call in (kms.update_alias, kms.delete_alias):
            args = {"AliasName": "payments"}
            if call == kms.update_alias:
                args["TargetKeyId"] = key
            self.assertEqual(Refusal(self, lambda: call(**args)).code, "ValidationException")
        # The model's pattern allows ":".
        kms.create_alias(AliasName="alias/team:payments", TargetKeyId=key)
        self.assertEqual(kms.describe_key(KeyId="alias/team:payments")["KeyMetadata"]["KeyId"], key)

    def test_predefined_aliases_are_listed_without_a_target(self):
        listed = kms.list_aliases()["Aliases"]
        by_name = {a["AliasName"]: a for a in listed}
        for name in PREDEFINED:
            self.assertEqual(by_name[name]["AliasArn"], f"arn:aws:kms:us-east-1:{ACCOUNT}:{name}")
        untouched = by_name["alias/aws/xray"]
        self.assertEqual(set(untouched), {"AliasName", "AliasArn"})
        # First use makes the AWS managed key; its alias is then listed once, with its target.
        managed = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
        self.assertEqual(managed["KeyManager"], "AWS")
        kms.create_alias(AliasName="alias/zz-fidelity", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
        names, marker = [], None
        while True:
            page = kms.list_aliases(Limit=3, **({"Marker": marker} if marker else {}))
            self.assertLessEqual(len(page["Aliases"]), 3)
            names += [(a["AliasName"], a.get("TargetKeyId")) for a in page["Aliases"]]
            if not page["Truncated"]:
                break
            self.assertEqual(len(page["Aliases"]), 3)
            marker = page["NextMarker"]
        self.assertEqual(len(names), len({n for n, _ in names}), names)
        self.assertEqual([n for n, _ in names], sorted(n for n, _ in names))
        targets = dict(names)
        self.assertEqual(targets["alias/aws/ebs"], managed["KeyId"])
        self.assertIsNone(targets["alias/aws/xray"])
        self.assertTrue(set(PREDEFINED) <= set(targets))
        self.assertIn("alias/zz-fidelity", targets)
        # A key's aliases are its own only.
        self.assertEqual(
            [a["AliasName"] for a in kms.list_aliases(KeyId=managed["KeyId"])["Aliases"]], ["alias/aws/ebs"]
        )


if __name__ == "__main__":
    unittest.main(verbosity=2)
