"""ML-DSA signing keys (issue 20 §2) through boto3 against kmsd's AWS JSON endpoint, cross-checked
with the `cryptography` package (48+, OpenSSL 4 underneath: its own ML-DSA, not swift-crypto's).
ML_DSA_65 and ML_DSA_87 are served with MessageType RAW; ML_DSA_44 and EXTERNAL_MU are refused
with UnsupportedOperationException. Run by Tests/KMSServerTests/MLDSAKeysTests.swift with
KMS_AWS_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (an admin)."""
import os
import unittest

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import mldsa, padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from kms_clients import kms_client

kms = kms_client(read_timeout=120)

MESSAGE = b"a message signed after quantum computers"
# The NIST OIDs, DER (RFC 9881): id-ml-dsa-65 2.16.840.1.101.3.4.3.18, id-ml-dsa-87 ...3.19.
OIDS = {"ML_DSA_65": bytes.fromhex("0609608648016503040312"), "ML_DSA_87": bytes.fromhex("0609608648016503040313")}
SIZES = {"ML_DSA_65": (1952, 3309), "ML_DSA_87": (2592, 4627)}
PRIVATE = {"ML_DSA_65": mldsa.MLDSA65PrivateKey, "ML_DSA_87": mldsa.MLDSA87PrivateKey}


def code(caught):
    return caught.exception.response["Error"]["Code"]


def create(spec, **extra):
    return kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY", **extra)["KeyMetadata"]


class Signing(unittest.TestCase):
    def test_sign_raw_verifies_here_and_outside(self):
        for spec in ("ML_DSA_65", "ML_DSA_87"):
            with self.subTest(spec=spec):
                meta = create(spec)
                self.assertEqual(meta["KeySpec"], spec)
                self.assertEqual(meta["KeyUsage"], "SIGN_VERIFY")
                self.assertEqual(meta["SigningAlgorithms"], ["ML_DSA_SHAKE_256"])
                for absent in ("EncryptionAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms"):
                    self.assertNotIn(absent, meta)
                key = meta["KeyId"]
                described = kms.describe_key(KeyId=key)["KeyMetadata"]
                self.assertEqual(described["SigningAlgorithms"], ["ML_DSA_SHAKE_256"])
                info = kms.get_public_key(KeyId=key)
                self.assertEqual(info["KeySpec"], spec)
                self.assertEqual(info["KeyUsage"], "SIGN_VERIFY")
                self.assertEqual(info["SigningAlgorithms"], ["ML_DSA_SHAKE_256"])
                der = info["PublicKey"]
                # SubjectPublicKeyInfo: AlgorithmIdentifier is the OID alone (no parameters).
                self.assertIn(bytes([0x30, len(OIDS[spec])]) + OIDS[spec] + b"\x03\x82", der)
                public = serialization.load_der_public_key(der)
                self.assertEqual(len(public.public_bytes_raw()), SIZES[spec][0])
                for message in (MESSAGE, b"\x00", os.urandom(4096)):
                    signed = kms.sign(KeyId=key, Message=message, SigningAlgorithm="ML_DSA_SHAKE_256")
                    self.assertEqual(signed["SigningAlgorithm"], "ML_DSA_SHAKE_256")
                    signature = signed["Signature"]
                    self.assertEqual(len(signature), SIZES[spec][1])
                    public.verify(signature, message)  # pure ML-DSA, empty context
                    verified = kms.verify(KeyId=key, Message=message, Signature=signature,
                                          SigningAlgorithm="ML_DSA_SHAKE_256", MessageType="RAW")
                    self.assertTrue(verified["SignatureValid"])
                tampered = bytearray(signature)
                tampered[100] ^= 0x01
                with self.assertRaises(InvalidSignature):
                    public.verify(bytes(tampered), message)
                with self.assertRaises(kms.exceptions.KMSInvalidSignatureException):
                    kms.verify(KeyId=key, Message=message, Signature=bytes(tampered),
                               SigningAlgorithm="ML_DSA_SHAKE_256")
                with self.assertRaises(kms.exceptions.KMSInvalidSignatureException):
                    kms.verify(KeyId=key, Message=MESSAGE + b"!", Signature=signature,
                               SigningAlgorithm="ML_DSA_SHAKE_256")

    def test_a_signature_made_outside_verifies_inside_only_with_its_key(self):
        own = mldsa.MLDSA65PrivateKey.generate()
        key = create("ML_DSA_65")["KeyId"]
        with self.assertRaises(kms.exceptions.KMSInvalidSignatureException):
            kms.verify(KeyId=key, Message=MESSAGE, Signature=own.sign(MESSAGE), SigningAlgorithm="ML_DSA_SHAKE_256")

    def test_refusals(self):
        with self.assertRaises(kms.exceptions.UnsupportedOperationException) as caught:
            create("ML_DSA_44")
        self.assertIn("ML_DSA_65", caught.exception.response["Error"]["Message"])
        key = create("ML_DSA_65")["KeyId"]
        mu = os.urandom(64)
        with self.assertRaises(kms.exceptions.UnsupportedOperationException) as caught:
            kms.sign(KeyId=key, Message=mu, MessageType="EXTERNAL_MU", SigningAlgorithm="ML_DSA_SHAKE_256")
        self.assertIn("EXTERNAL_MU", caught.exception.response["Error"]["Message"])
        with self.assertRaises(kms.exceptions.UnsupportedOperationException):
            kms.verify(KeyId=key, Message=mu, MessageType="EXTERNAL_MU", Signature=b"\x00" * 3309,
                       SigningAlgorithm="ML_DSA_SHAKE_256")
        with self.assertRaises(kms.exceptions.ClientError) as caught:
            kms.sign(KeyId=key, Message=mu, MessageType="DIGEST", SigningAlgorithm="ML_DSA_SHAKE_256")
        self.assertEqual(code(caught), "ValidationException")
        # The wrong algorithm for the key, as for every other spec.
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.verify(KeyId=key, Message=MESSAGE, Signature=b"\x00" * 3309, SigningAlgorithm="ED25519_SHA_512")
        # ML_DSA_SHAKE_256 on a key of another spec.
        ecc = create("ECC_NIST_P256")["KeyId"]
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.sign(KeyId=ecc, Message=MESSAGE, SigningAlgorithm="ML_DSA_SHAKE_256")
        with self.assertRaises(kms.exceptions.ClientError) as caught:
            kms.sign(KeyId=key, Message=b"x" * 4097, SigningAlgorithm="ML_DSA_SHAKE_256")
        self.assertEqual(code(caught), "ValidationException")
        for usage in ("ENCRYPT_DECRYPT", "KEY_AGREEMENT", "GENERATE_VERIFY_MAC"):
            with self.subTest(usage=usage), self.assertRaises(kms.exceptions.ClientError) as caught:
                kms.create_key(KeySpec="ML_DSA_65", KeyUsage=usage)
            self.assertEqual(code(caught), "ValidationException")
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.encrypt(KeyId=key, Plaintext=b"x")


def wrap(material, params):
    """RSA_AES_KEY_WRAP_SHA_256, as a customer does it with GetParametersForImport's public key."""
    public = serialization.load_der_public_key(params["PublicKey"])
    ephemeral = os.urandom(32)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    return public.encrypt(ephemeral, oaep) + aes_key_wrap_with_padding(ephemeral, material)


class Import(unittest.TestCase):
    def import_into(self, key, material):
        params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256",
                                               WrappingKeySpec="RSA_2048")
        kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"],
                                EncryptedKeyMaterial=wrap(material, params),
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")

    def test_a_seed_form_pkcs8_key_signs_as_outside(self):
        for spec in ("ML_DSA_65", "ML_DSA_87"):
            with self.subTest(spec=spec):
                own = PRIVATE[spec].generate()
                pkcs8 = own.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
                self.assertEqual(len(pkcs8), 54)  # the seed form of RFC 9881
                key = create(spec, Origin="EXTERNAL")["KeyId"]
                self.import_into(key, pkcs8)
                spki = own.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
                self.assertEqual(kms.get_public_key(KeyId=key)["PublicKey"], spki)
                signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
                own.public_key().verify(signature, MESSAGE)

    def test_material_of_another_spec_or_form_is_incorrect(self):
        key = create("ML_DSA_65", Origin="EXTERNAL")["KeyId"]
        other = mldsa.MLDSA87PrivateKey.generate().private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        with self.assertRaises(kms.exceptions.IncorrectKeyMaterialException):
            self.import_into(key, other)
        with self.assertRaises(kms.exceptions.IncorrectKeyMaterialException):
            self.import_into(key, os.urandom(32))


if __name__ == "__main__":
    unittest.main(verbosity=2)
