"""Asymmetric keys, HMAC keys, data key pairs, key agreement and imported key material, through
boto3 against kmsd's AWS JSON endpoint, cross-checked with an independent implementation: the
`cryptography` package (OpenSSL underneath, but its own code paths and encodings). Run by
Tests/KMSServerTests/AWSClientTests.swift with KMS_AWS_ENDPOINT, AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (an admin)."""
import datetime
import hashlib
import hmac
import os
import unittest

import boto3
from botocore.config import Config
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

kms = boto3.client(
    "kms",
    endpoint_url=os.environ["KMS_AWS_ENDPOINT"],
    region_name="us-east-1",
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    # Key pair generation (RSA-4096 above all) can outlast kms-cryptod's bound when the whole test
    # suite shares two cores; kmsd then answers the retryable DependencyTimeoutException, which an
    # SDK retries (standard mode: 3 attempts), and so does this client.
    config=Config(retries={"max_attempts": 3}, read_timeout=120),
)

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
MESSAGE = b"the message to sign, as bytes"


def create(spec, usage, **extra):
    return kms.create_key(KeySpec=spec, KeyUsage=usage, **extra)["KeyMetadata"]


def public_key(key_id):
    return serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])


def verify_outside(public, algorithm, signature, message):
    """Raises InvalidSignature unless `signature` verifies, by the cryptography package."""
    digest = HASHES[algorithm[-3:]]() if not algorithm.startswith("ED25519") else None
    if algorithm.startswith("RSASSA_PSS"):
        public.verify(signature, message, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
    elif algorithm.startswith("RSASSA_PKCS1"):
        public.verify(signature, message, padding.PKCS1v15(), digest)
    elif algorithm.startswith("ECDSA"):
        public.verify(signature, message, ec.ECDSA(digest))
    else:
        public.verify(signature, message)


class Signing(unittest.TestCase):
    SPECS = {
        "RSA_2048": ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
                     "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"],
        "RSA_3072": ["RSASSA_PSS_SHA_256"],
        "RSA_4096": ["RSASSA_PKCS1_V1_5_SHA_512"],
        "ECC_NIST_P256": ["ECDSA_SHA_256"],
        "ECC_NIST_P384": ["ECDSA_SHA_384"],
        "ECC_NIST_P521": ["ECDSA_SHA_512"],
        "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
        "ECC_NIST_EDWARDS25519": ["ED25519_SHA_512"],
    }

    def test_every_spec_and_algorithm_verifies_outside(self):
        for spec, algorithms in self.SPECS.items():
            meta = create(spec, "SIGN_VERIFY")
            self.assertEqual(meta["KeySpec"], spec)
            if spec != "RSA_3072" and spec != "RSA_4096":
                self.assertEqual(meta["SigningAlgorithms"], algorithms)
            # AWS sends the algorithm list of the key's usage only, never an empty one.
            for absent in ("EncryptionAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms", "CurrentKeyMaterialId"):
                self.assertNotIn(absent, meta)
            key = meta["KeyId"]
            public = public_key(key)
            info = kms.get_public_key(KeyId=key)
            self.assertEqual(info["KeyUsage"], "SIGN_VERIFY")
            self.assertEqual(info["KeySpec"], spec)
            for algorithm in algorithms:
                with self.subTest(spec=spec, algorithm=algorithm, type="RAW"):
                    signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm=algorithm)["Signature"]
                    verify_outside(public, algorithm, signature, MESSAGE)
                    self.assertTrue(kms.verify(KeyId=key, Message=MESSAGE, Signature=signature,
                                               SigningAlgorithm=algorithm)["SignatureValid"])
                    tampered = bytearray(signature)
                    tampered[len(tampered) // 2] ^= 1
                    with self.assertRaises(kms.exceptions.KMSInvalidSignatureException):
                        kms.verify(KeyId=key, Message=MESSAGE, Signature=bytes(tampered), SigningAlgorithm=algorithm)
                    with self.assertRaises(InvalidSignature):
                        verify_outside(public, algorithm, signature, MESSAGE + b"!")
                if algorithm.startswith("ED25519"):
                    continue
                with self.subTest(spec=spec, algorithm=algorithm, type="DIGEST"):
                    digest = hashlib.new("sha" + algorithm[-3:], MESSAGE).digest()
                    signature = kms.sign(KeyId=key, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)["Signature"]
                    # A DIGEST signature is the signature of the message the digest came from.
                    verify_outside(public, algorithm, signature, MESSAGE)
                    self.assertTrue(kms.verify(KeyId=key, Message=MESSAGE, Signature=signature,
                                               SigningAlgorithm=algorithm)["SignatureValid"])

    def test_ecdsa_signatures_are_der(self):
        key = create("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
        signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        self.assertEqual(signature[0], 0x30)  # a DER SEQUENCE (r, s), not 64 raw bytes
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        r, s = decode_dss_signature(signature)
        self.assertTrue(r > 0 and s > 0)

    def test_bad_requests(self):
        key = create("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")
        with self.assertRaises(kms.exceptions.ClientError) as caught:
            kms.sign(KeyId=key, Message=b"x" * 31, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        with self.assertRaises(kms.exceptions.ClientError) as caught:
            kms.sign(KeyId=key, Message=b"x" * 4097, SigningAlgorithm="ECDSA_SHA_256")
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        with self.assertRaises(kms.exceptions.KMSInvalidSignatureException):
            kms.verify(KeyId=key, Message=MESSAGE, Signature=b"\x30\x02\x01\x01", SigningAlgorithm="ECDSA_SHA_256")
        symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.sign(KeyId=symmetric, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
        with self.assertRaises(kms.exceptions.UnsupportedOperationException):
            kms.get_public_key(KeyId=symmetric)
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.encrypt(KeyId=key, Plaintext=b"x")
        kms.disable_key(KeyId=key)
        with self.assertRaises(kms.exceptions.DisabledException):
            kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")

    def test_refused_combinations(self):
        for spec, usage in [("ECC_NIST_P256", "ENCRYPT_DECRYPT"), ("HMAC_256", "ENCRYPT_DECRYPT"),
                            ("RSA_2048", "GENERATE_VERIFY_MAC"), ("ECC_NIST_EDWARDS25519", "KEY_AGREEMENT"),
                            ("SYMMETRIC_DEFAULT", "SIGN_VERIFY")]:
            with self.subTest(spec=spec, usage=usage), self.assertRaises(kms.exceptions.ClientError) as caught:
                create(spec, usage)
            self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        with self.assertRaises(kms.exceptions.UnsupportedOperationException):
            create("SM2", "SIGN_VERIFY")


class RSAEncryption(unittest.TestCase):
    LIMITS = {("RSA_2048", "RSAES_OAEP_SHA_1"): 214, ("RSA_2048", "RSAES_OAEP_SHA_256"): 190,
              ("RSA_3072", "RSAES_OAEP_SHA_1"): 342, ("RSA_3072", "RSAES_OAEP_SHA_256"): 318,
              ("RSA_4096", "RSAES_OAEP_SHA_1"): 470, ("RSA_4096", "RSAES_OAEP_SHA_256"): 446}

    def test_oaep_made_outside_decrypts_inside(self):
        keys = {}
        for (spec, algorithm), limit in self.LIMITS.items():
            with self.subTest(spec=spec, algorithm=algorithm):
                if spec not in keys:
                    meta = create(spec, "ENCRYPT_DECRYPT")
                    self.assertEqual(meta["EncryptionAlgorithms"], ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
                    keys[spec] = (meta["KeyId"], public_key(meta["KeyId"]))
                key, public = keys[spec]
                digest = hashes.SHA1() if algorithm.endswith("_1") else hashes.SHA256()
                plaintext = os.urandom(limit)
                ciphertext = public.encrypt(plaintext, padding.OAEP(padding.MGF1(digest), digest, None))
                opened = kms.decrypt(KeyId=key, CiphertextBlob=ciphertext, EncryptionAlgorithm=algorithm)
                self.assertEqual(opened["Plaintext"], plaintext)
                self.assertEqual(opened["EncryptionAlgorithm"], algorithm)
                # And inside to inside, at the limit; one byte over is refused.
                sealed = kms.encrypt(KeyId=key, Plaintext=plaintext, EncryptionAlgorithm=algorithm)["CiphertextBlob"]
                self.assertEqual(kms.decrypt(KeyId=key, CiphertextBlob=sealed, EncryptionAlgorithm=algorithm)["Plaintext"], plaintext)
                with self.assertRaises(kms.exceptions.ClientError) as caught:
                    kms.encrypt(KeyId=key, Plaintext=plaintext + b"!", EncryptionAlgorithm=algorithm)
                self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")

    def test_bad_requests(self):
        meta = create("RSA_2048", "ENCRYPT_DECRYPT")
        key = meta["KeyId"]
        sealed = kms.encrypt(KeyId=key, Plaintext=b"secret", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
        with self.assertRaises(kms.exceptions.InvalidCiphertextException):
            kms.decrypt(KeyId=key, CiphertextBlob=sealed, EncryptionAlgorithm="RSAES_OAEP_SHA_1")
        with self.assertRaises(kms.exceptions.InvalidCiphertextException):
            kms.decrypt(CiphertextBlob=sealed)  # an asymmetric ciphertext names no key
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.encrypt(KeyId=key, Plaintext=b"x")  # SYMMETRIC_DEFAULT on an RSA key
        with self.assertRaises(kms.exceptions.ClientError) as caught:
            kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256", EncryptionContext={"a": "b"})
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.generate_data_key(KeyId=key, KeySpec="AES_256")
        # ReEncrypt from the RSA key to a symmetric key and back.
        symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
        moved = kms.re_encrypt(CiphertextBlob=sealed, SourceKeyId=key, SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
                               DestinationKeyId=symmetric)
        self.assertEqual(kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"], b"secret")


class MACs(unittest.TestCase):
    def test_generate_and_verify_for_every_spec(self):
        for bits in ["224", "256", "384", "512"]:
            with self.subTest(bits=bits):
                meta = create("HMAC_" + bits, "GENERATE_VERIFY_MAC")
                self.assertEqual(meta["MacAlgorithms"], ["HMAC_SHA_" + bits])
                key = meta["KeyId"]
                mac = kms.generate_mac(KeyId=key, Message=MESSAGE, MacAlgorithm="HMAC_SHA_" + bits)
                self.assertEqual(len(mac["Mac"]), int(bits) // 8)
                self.assertTrue(kms.verify_mac(KeyId=key, Message=MESSAGE, Mac=mac["Mac"], MacAlgorithm="HMAC_SHA_" + bits)["MacValid"])
                with self.assertRaises(kms.exceptions.KMSInvalidMacException):
                    kms.verify_mac(KeyId=key, Message=MESSAGE + b"!", Mac=mac["Mac"], MacAlgorithm="HMAC_SHA_" + bits)
                with self.assertRaises(kms.exceptions.KMSInvalidMacException):
                    kms.verify_mac(KeyId=key, Message=MESSAGE, Mac=mac["Mac"][:-1], MacAlgorithm="HMAC_SHA_" + bits)
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.generate_mac(KeyId=key, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.encrypt(KeyId=key, Plaintext=b"x")


class DataKeyPairs(unittest.TestCase):
    def test_pairs_of_every_spec(self):
        wrapping = kms.create_key()["KeyMetadata"]["KeyId"]
        for spec in ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"]:
            with self.subTest(spec=spec):
                pair = kms.generate_data_key_pair(KeyId=wrapping, KeyPairSpec=spec, EncryptionContext={"purpose": "test"})
                private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
                public = serialization.load_der_public_key(pair["PublicKey"])
                der = serialization.PublicFormat.SubjectPublicKeyInfo
                self.assertEqual(private.public_key().public_bytes(serialization.Encoding.DER, der),
                                 public.public_bytes(serialization.Encoding.DER, der))
                opened = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext={"purpose": "test"})
                self.assertEqual(opened["Plaintext"], pair["PrivateKeyPlaintext"])
                self.assertEqual(pair["KeyPairSpec"], spec)
        without = kms.generate_data_key_pair_without_plaintext(KeyId=wrapping, KeyPairSpec="ECC_NIST_P256")
        self.assertNotIn("PrivateKeyPlaintext", without)
        serialization.load_der_private_key(kms.decrypt(CiphertextBlob=without["PrivateKeyCiphertextBlob"])["Plaintext"], password=None)
        signing = create("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.generate_data_key_pair(KeyId=signing, KeyPairSpec="ECC_NIST_P256")


class KeyAgreement(unittest.TestCase):
    def test_ecdh_matches_outside(self):
        for spec, curve in [("ECC_NIST_P256", ec.SECP256R1()), ("ECC_NIST_P384", ec.SECP384R1()), ("ECC_NIST_P521", ec.SECP521R1())]:
            with self.subTest(spec=spec):
                meta = create(spec, "KEY_AGREEMENT")
                self.assertEqual(meta["KeyAgreementAlgorithms"], ["ECDH"])
                peer = ec.generate_private_key(curve)
                peer_public = peer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
                derived = kms.derive_shared_secret(KeyId=meta["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_public)
                self.assertEqual(derived["SharedSecret"], peer.exchange(ec.ECDH(), public_key(meta["KeyId"])))
                self.assertEqual(derived["KeyOrigin"], "AWS_KMS")
        other = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        p256 = create("ECC_NIST_P256", "KEY_AGREEMENT")["KeyId"]
        for bad in [other, b"not a public key"]:
            with self.assertRaises(kms.exceptions.ClientError) as caught:
                kms.derive_shared_secret(KeyId=p256, KeyAgreementAlgorithm="ECDH", PublicKey=bad)
            self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        signing = create("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
        with self.assertRaises(kms.exceptions.InvalidKeyUsageException):
            kms.derive_shared_secret(KeyId=signing, KeyAgreementAlgorithm="ECDH", PublicKey=other)


def wrap(material, params, algorithm):
    """What a customer does with GetParametersForImport's public key."""
    public = serialization.load_der_public_key(params["PublicKey"])
    digest = hashes.SHA1() if algorithm.endswith("_1") else hashes.SHA256()
    oaep = padding.OAEP(padding.MGF1(digest), digest, None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    ephemeral = os.urandom(32)
    return public.encrypt(ephemeral, oaep) + aes_key_wrap_with_padding(ephemeral, material)


class ImportedKeyMaterial(unittest.TestCase):
    def import_into(self, key, material, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048", **extra):
        params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
        # AWS's default ExpirationModel is KEY_MATERIAL_EXPIRES, which needs a ValidTo.
        extra.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
        return kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"],
                                       EncryptedKeyMaterial=wrap(material, params, algorithm), **extra)

    def test_symmetric_material_round_trip_and_reimport(self):
        meta = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
        key = meta["KeyId"]
        self.assertEqual(meta["KeyState"], "PendingImport")
        self.assertEqual(meta["Origin"], "EXTERNAL")
        with self.assertRaises(kms.exceptions.KMSInvalidStateException):
            kms.encrypt(KeyId=key, Plaintext=b"x")
        material = os.urandom(32)
        for algorithm in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"]:
            with self.subTest(algorithm=algorithm):
                self.import_into(key, material, algorithm, spec="RSA_3072" if algorithm.endswith("SHA_1") else "RSA_2048")
        described = kms.describe_key(KeyId=key)["KeyMetadata"]
        self.assertEqual(described["KeyState"], "Enabled")
        self.assertEqual(described["ExpirationModel"], "KEY_MATERIAL_DOES_NOT_EXPIRE")
        blob = kms.encrypt(KeyId=key, Plaintext=b"imported")["CiphertextBlob"]
        kms.delete_imported_key_material(KeyId=key)
        self.assertEqual(kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"], "PendingImport")
        with self.assertRaises(kms.exceptions.KMSInvalidStateException):
            kms.decrypt(CiphertextBlob=blob)
        with self.assertRaises(kms.exceptions.IncorrectKeyMaterialException):
            self.import_into(key, os.urandom(32))
        with self.assertRaises(kms.exceptions.IncorrectKeyMaterialException):
            self.import_into(key, os.urandom(16))
        valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
        self.import_into(key, material, ValidTo=valid_to, ExpirationModel="KEY_MATERIAL_EXPIRES")
        described = kms.describe_key(KeyId=key)["KeyMetadata"]
        self.assertEqual(described["ExpirationModel"], "KEY_MATERIAL_EXPIRES")
        self.assertEqual(int(described["ValidTo"].timestamp()), int(valid_to.timestamp()))
        self.assertEqual(kms.decrypt(CiphertextBlob=blob)["Plaintext"], b"imported")

    def test_hmac_material_matches_outside(self):
        key = create("HMAC_256", "GENERATE_VERIFY_MAC", Origin="EXTERNAL")["KeyId"]
        material = os.urandom(48)
        self.import_into(key, material)
        mac = kms.generate_mac(KeyId=key, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
        self.assertEqual(mac, hmac.new(material, MESSAGE, hashlib.sha256).digest())

    def test_asymmetric_material_signs_and_decrypts_as_outside(self):
        own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pkcs8 = own.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        signing = create("RSA_2048", "SIGN_VERIFY", Origin="EXTERNAL")["KeyId"]
        self.import_into(signing, pkcs8, "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096")
        der = serialization.PublicFormat.SubjectPublicKeyInfo
        self.assertEqual(kms.get_public_key(KeyId=signing)["PublicKey"], own.public_key().public_bytes(serialization.Encoding.DER, der))
        signature = kms.sign(KeyId=signing, Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
        verify_outside(own.public_key(), "RSASSA_PSS_SHA_256", signature, MESSAGE)
        encrypting = create("RSA_2048", "ENCRYPT_DECRYPT", Origin="EXTERNAL")["KeyId"]
        self.import_into(encrypting, pkcs8, "RSA_AES_KEY_WRAP_SHA_1", "RSA_2048")
        ciphertext = own.public_key().encrypt(b"from outside", padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
        self.assertEqual(kms.decrypt(KeyId=encrypting, CiphertextBlob=ciphertext, EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"],
                         b"from outside")
        ec_key = create("ECC_NIST_P256", "SIGN_VERIFY", Origin="EXTERNAL")["KeyId"]
        with self.assertRaises(kms.exceptions.IncorrectKeyMaterialException):
            self.import_into(ec_key, pkcs8, "RSA_AES_KEY_WRAP_SHA_256")

    def test_bad_tokens_and_material(self):
        key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        other = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        params = kms.get_parameters_for_import(KeyId=other, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
        self.assertGreater(params["ParametersValidTo"], datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=23))
        with self.assertRaises(kms.exceptions.InvalidImportTokenException):
            kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"],
                                    EncryptedKeyMaterial=wrap(os.urandom(32), params, "RSAES_OAEP_SHA_256"),
                                    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        with self.assertRaises(kms.exceptions.InvalidImportTokenException):
            kms.import_key_material(KeyId=other, ImportToken=b"\x01garbage" * 8, EncryptedKeyMaterial=b"x" * 256,
                                    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        with self.assertRaises(kms.exceptions.InvalidCiphertextException):
            kms.import_key_material(KeyId=other, ImportToken=params["ImportToken"], EncryptedKeyMaterial=os.urandom(256),
                                    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        with self.assertRaises(kms.exceptions.UnsupportedOperationException):
            kms.get_parameters_for_import(KeyId=kms.create_key()["KeyMetadata"]["KeyId"],
                                          WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
        with self.assertRaises(kms.exceptions.UnsupportedOperationException):
            kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_PKCS1_V1_5", WrappingKeySpec="RSA_2048")


if __name__ == "__main__":
    unittest.main(verbosity=2)
