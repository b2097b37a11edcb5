"""Envelope encryption between kms's Swift KMSEnvelope and the AWS Encryption SDK for Python,
through kmsd's AWS JSON endpoint. ENVELOPE_DIR/swift holds messages the Swift side made
(NAME.msg, its plaintext NAME.plain, and NAME.keys: the key ARNs it was encrypted under, one a
line); this suite decrypts them, checks that damaged copies fail, and writes its own messages to
ENVELOPE_DIR/python for the Swift side to decrypt. ENVELOPE_DIR/swift-raw and python-raw do the
same with raw AES keys (the SDK's RawMasterKey, KMSEnvelope's RawAESKeyring), no KMS involved:
NAME.msg, NAME.plain and NAME.key (key name, then the key in hex); swift-required and
python-required hold such messages whose "tenant" pair is required but not stored. Needs KMS_AWS_ENDPOINT,
KMS_KEY_ARN, KMS_OTHER_KEY_ARN and an admin's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
import os
import pathlib
import unittest

import attr

os.environ["AWS_ENDPOINT_URL_KMS"] = os.environ["KMS_AWS_ENDPOINT"]
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

import aws_encryption_sdk  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402
from aws_encryption_sdk.identifiers import Algorithm, EncryptionKeyType, WrappingAlgorithm  # noqa: E402
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey  # noqa: E402
from aws_encryption_sdk.key_providers.raw import RawMasterKey  # noqa: E402
from aws_encryption_sdk.materials_managers.base import CryptoMaterialsManager  # noqa: E402
from aws_encryption_sdk.materials_managers.default import DefaultCryptoMaterialsManager  # noqa: E402
from aws_encryption_sdk.key_providers.kms import DiscoveryFilter  # noqa: E402

DIRECTORY = pathlib.Path(os.environ["ENVELOPE_DIR"])
KEY = os.environ["KMS_KEY_ARN"]
OTHER = os.environ["KMS_OTHER_KEY_ARN"]
ACCOUNT = KEY.split(":")[4]

COMMITTING = [Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY, Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384]
LEGACY = [Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA256, Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384]
# (frame length, plaintext lengths): empty, one byte, exactly one frame, one byte over, several
# frames. The Python SDK writes frame lengths that are multiples of 128 only; 0 is non-framed
# content, which old SDKs wrote.
SIZES = [(4096, [0, 1, 4096, 4097]), (128, [0, 128, 129, 300]), (0, [0, 1, 300])]


RAW_NAMESPACE = "kms-interop"
WRAPPING = {16: WrappingAlgorithm.AES_128_GCM_IV12_TAG16_NO_PADDING,
            24: WrappingAlgorithm.AES_192_GCM_IV12_TAG16_NO_PADDING,
            32: WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING}


def raw_key(name, key):
    """The SDK's raw AES master key: namespace = provider id, key name = key id."""
    wrapping = WrappingKey(wrapping_algorithm=WRAPPING[len(key)], wrapping_key=key,
                           wrapping_key_type=EncryptionKeyType.SYMMETRIC)
    return RawMasterKey(provider_id=RAW_NAMESPACE, key_id=name.encode(), wrapping_key=wrapping)


class RequiredContextCMM(CryptoMaterialsManager):
    """The required encryption context CMM's behaviour without the aws-cryptographic-material-providers
    library (not installed here): the SDK's streaming client leaves out of the header, and
    authenticates in its tag, the pairs whose keys the materials list as required_encryption_context_keys;
    on decrypt this CMM adds the reproduced pairs, as the MPL's does."""

    def __init__(self, master_key, required):
        self.default = DefaultCryptoMaterialsManager(master_key)
        self.required = required

    def get_encryption_materials(self, request):
        materials = self.default.get_encryption_materials(request)
        materials.required_encryption_context_keys = list(self.required)
        return materials

    def decrypt_materials(self, request):
        context = dict(request.encryption_context, **self.required)
        materials = self.default.decrypt_materials(attr.evolve(request, encryption_context=context))
        materials.encryption_context = context
        materials.required_encryption_context_keys = list(self.required)
        return materials


def reader():
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)


def swift_messages():
    for path in sorted((DIRECTORY / "swift").glob("*.msg")):
        yield path.stem, path.read_bytes(), path.with_suffix(".plain").read_bytes(), path.with_suffix(".keys").read_text().split()


class EnvelopeInterop(unittest.TestCase):
    def test_swift_messages_decrypt_with_each_of_their_keys(self):
        names = []
        for name, message, plaintext, keys in swift_messages():
            for key in keys:
                with self.subTest(message=name, key=key):
                    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[key])
                    decrypted, header = reader().decrypt(source=message, key_provider=provider)
                    self.assertEqual(decrypted, plaintext)
                    self.assertEqual(header.encryption_context["origin"], "swift")
                    self.assertEqual(len(header.encrypted_data_keys), len(keys))
            names.append(name)
        self.assertGreaterEqual(len(names), 20)

    def test_swift_messages_decrypt_in_discovery_mode_within_the_filter_only(self):
        name, message, plaintext, _ = next(swift_messages())
        allowed = aws_encryption_sdk.DiscoveryAwsKmsMasterKeyProvider(
            discovery_filter=DiscoveryFilter(account_ids=[ACCOUNT], partition="aws"))
        self.assertEqual(reader().decrypt(source=message, key_provider=allowed)[0], plaintext)
        elsewhere = aws_encryption_sdk.DiscoveryAwsKmsMasterKeyProvider(
            discovery_filter=DiscoveryFilter(account_ids=["999999999999"], partition="aws"))
        with self.assertRaises(Exception):
            reader().decrypt(source=message, key_provider=elsewhere)

    def test_damaged_swift_messages_fail(self):
        provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[KEY])
        for name, message, _, _ in swift_messages():
            if not name.startswith("sign-"):
                continue
            for index in sorted({0, 3, 40, len(message) // 2, len(message) - 60, len(message) - 1}):
                damaged = bytearray(message)
                damaged[index] ^= 1
                with self.subTest(message=name, byte=index), self.assertRaises(Exception):
                    reader().decrypt(source=bytes(damaged), key_provider=provider)
            with self.subTest(message=name, cut=True), self.assertRaises(Exception):
                reader().decrypt(source=message[:-1], key_provider=provider)

    def test_write_messages_for_swift(self):
        out = DIRECTORY / "python"
        out.mkdir(exist_ok=True)
        for algorithm in COMMITTING + LEGACY:
            policy = CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT if algorithm in COMMITTING else \
                CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
            client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=policy)
            for frame_length, lengths in SIZES:
                for length in lengths:
                    keys = [KEY, OTHER] if length % 2 else [KEY]
                    plaintext = os.urandom(length)
                    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=keys)
                    message, _ = client.encrypt(
                        source=plaintext, key_provider=provider, algorithm=algorithm, frame_length=frame_length,
                        encryption_context={"origin": "python", "suite": algorithm.name})
                    name = f"{algorithm.name}-{frame_length}-{length}"
                    (out / f"{name}.msg").write_bytes(message)
                    (out / f"{name}.plain").write_bytes(plaintext)
                    (out / f"{name}.keys").write_text("\n".join(keys))


    def test_swift_raw_aes_messages_decrypt_and_damaged_ones_fail(self):
        paths = sorted((DIRECTORY / "swift-raw").glob("*.msg"))
        self.assertGreaterEqual(len(paths), 11)
        for path in paths:
            name, key = path.with_suffix(".key").read_text().split()
            master_key = raw_key(name, bytes.fromhex(key))
            message = path.read_bytes()
            with self.subTest(message=path.stem):
                decrypted, header = reader().decrypt(source=message, key_provider=master_key)
                self.assertEqual(decrypted, path.with_suffix(".plain").read_bytes())
                self.assertEqual(header.encryption_context["origin"], "swift")
                self.assertEqual([k.key_provider.provider_id for k in header.encrypted_data_keys], [RAW_NAMESPACE])
            with self.subTest(message=path.stem, key="other"), self.assertRaises(Exception):
                reader().decrypt(source=message, key_provider=raw_key(name, os.urandom(len(key) // 2)))
            damaged = bytearray(message)
            damaged[len(message) // 2] ^= 1
            with self.subTest(message=path.stem, damaged=True), self.assertRaises(Exception):
                reader().decrypt(source=bytes(damaged), key_provider=master_key)

    def test_write_raw_aes_messages_for_swift(self):
        out = DIRECTORY / "python-raw"
        out.mkdir(exist_ok=True)
        for index, algorithm in enumerate(Algorithm):
            policy = CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT if algorithm.is_committing() else \
                CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
            client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=policy)
            for frame_length in (128, 0):
                key = os.urandom([16, 24, 32][(index + frame_length) % 3])
                key_name = f"raw-aes-{len(key) * 8}"
                plaintext = os.urandom(300)
                message, _ = client.encrypt(
                    source=plaintext, key_provider=raw_key(key_name, key), algorithm=algorithm,
                    frame_length=frame_length, encryption_context={"origin": "python", "suite": algorithm.name})
                name = f"{algorithm.name}-{frame_length}"
                (out / f"{name}.msg").write_bytes(message)
                (out / f"{name}.plain").write_bytes(plaintext)
                (out / f"{name}.key").write_text(f"{key_name} {key.hex()}\n")


    def test_swift_required_context_messages_decrypt_only_with_the_context(self):
        paths = sorted((DIRECTORY / "swift-required").glob("*.msg"))
        self.assertGreaterEqual(len(paths), 3)
        for path in paths:
            name, key = path.with_suffix(".key").read_text().split()
            master_key = raw_key(name, bytes.fromhex(key))
            message = path.read_bytes()
            with self.subTest(message=path.stem):
                cmm = RequiredContextCMM(master_key, {"tenant": "t-1"})
                decrypted, header = reader().decrypt(source=message, materials_manager=cmm)
                self.assertEqual(decrypted, path.with_suffix(".plain").read_bytes())
                self.assertNotIn("tenant", header.encryption_context)
                self.assertEqual(header.encryption_context["origin"], "swift")
            for wrong in ({}, {"tenant": "t-2"}):
                with self.subTest(message=path.stem, reproduced=wrong), self.assertRaises(Exception):
                    reader().decrypt(source=message, materials_manager=RequiredContextCMM(master_key, wrong))

    def test_write_required_context_messages_for_swift(self):
        out = DIRECTORY / "python-required"
        out.mkdir(exist_ok=True)
        for algorithm in COMMITTING + LEGACY:
            policy = CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT if algorithm in COMMITTING else \
                CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
            client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=policy)
            key = os.urandom(32)
            plaintext = os.urandom(300)
            cmm = RequiredContextCMM(raw_key("raw-aes-256", key), {"tenant": "t-1"})
            message, header = client.encrypt(
                source=plaintext, materials_manager=cmm, algorithm=algorithm, frame_length=128,
                encryption_context={"origin": "python", "tenant": "t-1"})
            self.assertNotIn("tenant", header.encryption_context)
            (out / f"{algorithm.name}.msg").write_bytes(message)
            (out / f"{algorithm.name}.plain").write_bytes(plaintext)
            (out / f"{algorithm.name}.key").write_text(f"raw-aes-256 {key.hex()}\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
