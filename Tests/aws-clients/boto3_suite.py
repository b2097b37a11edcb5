"""boto3 against kmsd's AWS JSON endpoint: each operation and its main errors, with the
exception classes boto3 raises for AWS KMS. Run by Tests/KMSServerTests/AWSClientTests.swift
with KMS_AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (an admin) and, for the
access-denied cases, KMS_OTHER_ACCESS_KEY_ID / KMS_OTHER_SECRET_ACCESS_KEY (no permissions)."""
import json
import os
import unittest

import boto3

from kms_clients import kms_client as client

kms = client()


class Keys(unittest.TestCase):
    def test_lifecycle(self):
        meta = kms.create_key(Description="boto3 lifecycle")["KeyMetadata"]
        key = meta["KeyId"]
        self.assertEqual(meta["KeyState"], "Enabled")
        self.assertEqual(meta["KeySpec"], "SYMMETRIC_DEFAULT")
        self.assertEqual(meta["KeyUsage"], "ENCRYPT_DECRYPT")
        self.assertTrue(meta["Arn"].startswith("arn:aws:kms:us-east-1:111122223333:key/"))
        self.assertIn(key, [k["KeyId"] for k in kms.get_paginator("list_keys").paginate(Limit=1).build_full_result()["Keys"]])
        kms.update_key_description(KeyId=key, Description="renamed")
        self.assertEqual(kms.describe_key(KeyId=key)["KeyMetadata"]["Description"], "renamed")
        kms.disable_key(KeyId=key)
        with self.assertRaises(kms.exceptions.DisabledException):
            kms.encrypt(KeyId=key, Plaintext=b"x")
        kms.enable_key(KeyId=key)
        deletion = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        self.assertEqual(deletion["KeyState"], "PendingDeletion")
        self.assertEqual(deletion["PendingWindowInDays"], 7)
        with self.assertRaises(kms.exceptions.KMSInvalidStateException):
            kms.encrypt(KeyId=key, Plaintext=b"x")
        kms.cancel_key_deletion(KeyId=key)
        self.assertEqual(kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"], "Disabled")

    def test_not_found_and_validation(self):
        with self.assertRaises(kms.exceptions.NotFoundException):
            kms.describe_key(KeyId="11111111-2222-3333-4444-555555555555")
        with self.assertRaises(kms.exceptions.NotFoundException):
            kms.describe_key(KeyId="alias/does-not-exist")
        with self.assertRaises(kms.exceptions.ClientError) as caught:
            kms.schedule_key_deletion(KeyId=kms.create_key()["KeyMetadata"]["KeyId"], PendingWindowInDays=3)
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")


class Cryptography(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key = kms.create_key()["KeyMetadata"]
        cls.other = kms.create_key()["KeyMetadata"]

    def test_encrypt_decrypt_reencrypt(self):
        blob = kms.encrypt(KeyId=self.key["KeyId"], Plaintext=b"secret", EncryptionContext={"app": "web"})
        self.assertEqual(blob["KeyId"], self.key["Arn"])
        self.assertEqual(blob["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT")
        plain = kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"app": "web"})
        self.assertEqual(plain["Plaintext"], b"secret")
        self.assertEqual(plain["KeyId"], self.key["Arn"])
        with self.assertRaises(kms.exceptions.InvalidCiphertextException):
            kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"app": "db"})
        with self.assertRaises(kms.exceptions.IncorrectKeyException):
            kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], KeyId=self.other["KeyId"], EncryptionContext={"app": "web"})
        moved = kms.re_encrypt(
            CiphertextBlob=blob["CiphertextBlob"], SourceEncryptionContext={"app": "web"},
            DestinationKeyId=self.other["KeyId"], DestinationEncryptionContext={"app": "web2"},
        )
        self.assertEqual(moved["SourceKeyId"], self.key["Arn"])
        self.assertEqual(moved["KeyId"], self.other["Arn"])
        self.assertEqual(kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"app": "web2"})["Plaintext"], b"secret")

    def test_limits_give_aws_validation_messages(self):
        with self.assertRaises(kms.exceptions.ClientError) as caught:
            kms.encrypt(KeyId=self.key["KeyId"], Plaintext=b"x" * 4097)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], "ValidationException")
        self.assertIn("4096", error["Message"])

    def test_data_keys_and_random(self):
        data_key = kms.generate_data_key(KeyId=self.key["KeyId"], KeySpec="AES_256")
        self.assertEqual(len(data_key["Plaintext"]), 32)
        self.assertEqual(kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"], data_key["Plaintext"])
        self.assertEqual(len(kms.generate_data_key(KeyId=self.key["KeyId"], NumberOfBytes=64)["Plaintext"]), 64)
        without = kms.generate_data_key_without_plaintext(KeyId=self.key["KeyId"], KeySpec="AES_128")
        self.assertNotIn("Plaintext", without)
        self.assertEqual(len(kms.decrypt(CiphertextBlob=without["CiphertextBlob"])["Plaintext"]), 16)
        self.assertEqual(len(kms.generate_random(NumberOfBytes=100)["Plaintext"]), 100)

    def test_garbage_ciphertext(self):
        with self.assertRaises(kms.exceptions.InvalidCiphertextException):
            kms.decrypt(CiphertextBlob=b"\x01" * 120)


class Aliases(unittest.TestCase):
    def test_aliases(self):
        first = kms.create_key()["KeyMetadata"]["KeyId"]
        second = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/boto3", TargetKeyId=first)
        with self.assertRaises(kms.exceptions.AlreadyExistsException):
            kms.create_alias(AliasName="alias/boto3", TargetKeyId=second)
        with self.assertRaises(kms.exceptions.InvalidAliasNameException):
            kms.create_alias(AliasName="alias/aws/reserved", TargetKeyId=first)
        kms.update_alias(AliasName="alias/boto3", TargetKeyId=second)
        listed = kms.list_aliases(KeyId=second)["Aliases"]
        self.assertEqual([a["AliasName"] for a in listed], ["alias/boto3"])
        self.assertEqual(kms.describe_key(KeyId="alias/boto3")["KeyMetadata"]["KeyId"], second)
        kms.delete_alias(AliasName="alias/boto3")
        with self.assertRaises(kms.exceptions.NotFoundException):
            kms.describe_key(KeyId="alias/boto3")


class PoliciesAndGrants(unittest.TestCase):
    def test_policies(self):
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        self.assertEqual(kms.list_key_policies(KeyId=key)["PolicyNames"], ["default"])
        policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
        self.assertEqual(policy["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::111122223333:root")
        with self.assertRaises(kms.exceptions.MalformedPolicyDocumentException):
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy='{"Version": "2012-10-17", "Statement": []}')
        with self.assertRaises(kms.exceptions.MalformedPolicyDocumentException):
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy="not json")
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))

    def test_grants(self):
        key = kms.create_key()["KeyMetadata"]
        grant = kms.create_grant(
            KeyId=key["KeyId"], GranteePrincipal="arn:aws:iam::111122223333:role/reader",
            RetiringPrincipal="arn:aws:iam::111122223333:user/admin",
            Operations=["Decrypt"], Constraints={"EncryptionContextSubset": {"app": "web"}},
        )
        grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]
        self.assertEqual([g["GrantId"] for g in grants], [grant["GrantId"]])
        self.assertEqual(grants[0]["Operations"], ["Decrypt"])
        self.assertEqual(grants[0]["Constraints"], {"EncryptionContextSubset": {"app": "web"}})
        retirable = kms.list_retirable_grants(RetiringPrincipal="arn:aws:iam::111122223333:user/admin")["Grants"]
        self.assertIn(grant["GrantId"], [g["GrantId"] for g in retirable])
        kms.retire_grant(GrantToken=grant["GrantToken"])
        self.assertEqual(kms.list_grants(KeyId=key["KeyId"])["Grants"], [])
        second = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal="arn:aws:iam::111122223333:role/reader", Operations=["Encrypt"])
        kms.revoke_grant(KeyId=key["KeyId"], GrantId=second["GrantId"])
        with self.assertRaises(kms.exceptions.NotFoundException):
            kms.revoke_grant(KeyId=key["KeyId"], GrantId=second["GrantId"])
        with self.assertRaises(kms.exceptions.InvalidGrantTokenException):
            kms.retire_grant(GrantToken="not-a-token")


class Authentication(unittest.TestCase):
    def test_denied_and_unrecognized(self):
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        other = client(os.environ["KMS_OTHER_ACCESS_KEY_ID"], os.environ["KMS_OTHER_SECRET_ACCESS_KEY"])
        with self.assertRaises(other.exceptions.ClientError) as caught:
            other.encrypt(KeyId=key, Plaintext=b"x")
        self.assertEqual(caught.exception.response["Error"]["Code"], "AccessDeniedException")
        self.assertIn("is not authorized to perform: kms:Encrypt", caught.exception.response["Error"]["Message"])
        stranger = client("AKIAUNKNOWNUNKNOWN12", "x" * 40)
        with self.assertRaises(stranger.exceptions.ClientError) as caught:
            stranger.list_keys()
        self.assertEqual(caught.exception.response["Error"]["Code"], "UnrecognizedClientException")
        wrong = client(os.environ["AWS_ACCESS_KEY_ID"], "y" * 40)
        with self.assertRaises(wrong.exceptions.ClientError) as caught:
            wrong.list_keys()
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidSignatureException")
        elsewhere = boto3.client(
            "kms", endpoint_url=os.environ["KMS_AWS_ENDPOINT"], region_name="eu-north-1",
            aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        )
        with self.assertRaises(elsewhere.exceptions.ClientError) as caught:
            elsewhere.list_keys()
        self.assertEqual(caught.exception.response["Error"]["Code"], "UnrecognizedClientException")


if __name__ == "__main__":
    unittest.main(verbosity=2)
