"""The AWS Encryption SDK for Python against kmsd: envelope encryption through a KMS master key
provider, and its data-key cache, counted so that the cache is seen to spare GenerateDataKey
calls. botocore honours AWS_ENDPOINT_URL_KMS, so the SDK needs no change to reach us. Needs
KMS_AWS_ENDPOINT, KMS_KEY_ARN and an admin's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
import os
import unittest

os.environ["AWS_ENDPOINT_URL_KMS"] = os.environ["KMS_AWS_ENDPOINT"]
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

import aws_encryption_sdk  # noqa: E402
import botocore.session  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402


class Counter:
    def __init__(self, session):
        self.calls = {}
        session.register("before-call.kms", self.count)

    def count(self, model, **_):
        self.calls[model.name] = self.calls.get(model.name, 0) + 1


class EncryptionSDK(unittest.TestCase):
    def setUp(self):
        self.session = botocore.session.Session()
        self.counter = Counter(self.session)
        self.client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
        self.provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
            key_ids=[os.environ["KMS_KEY_ARN"]], botocore_session=self.session
        )

    def test_a_message_round_trips_through_kms(self):
        message = b"envelope encryption, data key from kmsd" * 100
        ciphertext, header = self.client.encrypt(source=message, key_provider=self.provider, encryption_context={"purpose": "test"})
        self.assertNotIn(message[:32], ciphertext)
        self.assertEqual(len(header.encrypted_data_keys), 1)
        plaintext, decrypted_header = self.client.decrypt(source=ciphertext, key_provider=self.provider)
        self.assertEqual(plaintext, message)
        self.assertEqual(decrypted_header.encryption_context["purpose"], "test")
        self.assertEqual(self.counter.calls.get("GenerateDataKey"), 1)
        self.assertEqual(self.counter.calls.get("Decrypt"), 1)

    def test_the_data_key_cache_spares_generate_data_key_calls(self):
        cache = aws_encryption_sdk.LocalCryptoMaterialsCache(capacity=10)
        manager = aws_encryption_sdk.CachingCryptoMaterialsManager(
            master_key_provider=self.provider, cache=cache, max_age=600.0, max_messages_encrypted=10
        )
        messages = [f"message {i}".encode() for i in range(25)]
        ciphertexts = [self.client.encrypt(source=m, materials_manager=manager, encryption_context={"batch": "1"})[0] for m in messages]
        # 25 messages, at most 10 per data key: three GenerateDataKey calls instead of 25.
        self.assertEqual(self.counter.calls.get("GenerateDataKey"), 3)
        for message, ciphertext in zip(messages, ciphertexts):
            self.assertEqual(self.client.decrypt(source=ciphertext, materials_manager=manager)[0], message)
        # Decryption materials are cached too: one Decrypt per distinct data key.
        self.assertEqual(self.counter.calls.get("Decrypt"), 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
