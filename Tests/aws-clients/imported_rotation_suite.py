"""Rotation of imported key material (issue 20 section 2), through boto3 against kmsd's AWS JSON
endpoint: ImportType NEW_KEY_MATERIAL / EXISTING_KEY_MATERIAL, RotateKeyOnDemand of an EXTERNAL
key, ListKeyRotations with IncludeKeyMaterial, DeleteImportedKeyMaterial by KeyMaterialId. Messages
asserted are AWS's where documented (botocore's model, the developer guide); where AWS's exact text
is unknown only the code is asserted. Run by Tests/KMSServerTests/ImportedRotationTests.swift with
KMS_AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (an admin of account 111122223333) and
KMS_OTHER_ACCESS_KEY_ID / KMS_OTHER_SECRET_ACCESS_KEY (a principal without any permission)."""
import datetime
import json
import os
import subprocess
import tempfile
import unittest

import botocore.exceptions
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from kms_clients import kms_client, unprivileged_client


kms = kms_client()
unchecked = kms_client(validate=False)
other = unprivileged_client()


def wrapped(key, material, via=kms):
    params = via.get_parameters_for_import(
        KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    public = serialization.load_der_public_key(params["PublicKey"])
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    return params["ImportToken"], public.encrypt(material, oaep)


def import_into(key, material, via=kms, **extra):
    token, encrypted = wrapped(key, material)
    extra.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return via.import_key_material(KeyId=key, ImportToken=token, EncryptedKeyMaterial=encrypted, **extra)


class ImportedRotation(unittest.TestCase):
    def refused(self, code, message, call, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(**kwargs)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        if message is not None:
            self.assertEqual(error.get("Message", ""), message, error)
        return error

    def listing(self, key, include=None):
        extra = {"IncludeKeyMaterial": include} if include else {}
        return kms.list_key_rotations(KeyId=key, **extra)["Rotations"]

    def test_new_material_waits_then_rotates_on_demand(self):
        meta = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
        key, arn = meta["KeyId"], meta["Arn"]
        first_material, second_material, third_material = os.urandom(32), os.urandom(32), os.urandom(32)
        # No ImportType: NEW_KEY_MATERIAL for the first import.
        first = import_into(key, first_material, KeyMaterialDescription="first one")["KeyMaterialId"]
        described = kms.describe_key(KeyId=key)["KeyMetadata"]
        self.assertEqual(described["KeyState"], "Enabled")
        self.assertEqual(described["CurrentKeyMaterialId"], first)
        old_blob = kms.encrypt(KeyId=key, Plaintext=b"under the first")["CiphertextBlob"]
        self.refused("KMSInvalidStateException", f"No available key material pending rotation for the key: {arn}.",
                     kms.rotate_key_on_demand, KeyId=key)
        valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)
        second = import_into(key, second_material, ImportType="NEW_KEY_MATERIAL", KeyMaterialDescription="second",
                             ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)["KeyMaterialId"]
        self.assertNotEqual(first, second)
        # Pending rotation: not current yet.
        self.assertEqual(kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"], first)
        self.assertEqual(self.listing(key), [])
        entries = self.listing(key, "ALL_KEY_MATERIAL")
        self.assertEqual([(e["KeyMaterialId"], e["KeyMaterialState"], e["ImportState"]) for e in entries],
                         [(first, "CURRENT", "IMPORTED"), (second, "PENDING_ROTATION", "IMPORTED")])
        self.assertEqual(entries[0]["KeyMaterialDescription"], "first one")
        self.assertEqual(entries[0]["ExpirationModel"], "KEY_MATERIAL_DOES_NOT_EXPIRE")
        self.assertNotIn("ValidTo", entries[0])
        self.assertNotIn("RotationDate", entries[1])
        self.assertNotIn("RotationType", entries[1])
        self.assertEqual(entries[1]["ExpirationModel"], "KEY_MATERIAL_EXPIRES")
        self.assertEqual(int(entries[1]["ValidTo"].timestamp()), int(valid_to.timestamp()))
        # A second pending material is refused, AWS's message naming both.
        third_id = None
        with self.assertRaises(kms.exceptions.KMSInvalidStateException) as caught:
            import_into(key, third_material, ImportType="NEW_KEY_MATERIAL")
        message = caught.exception.response["Error"]["Message"]
        third_id = message.split("(id: ")[1].split(")")[0]
        self.assertEqual(message, f"New key material (id: {third_id}) cannot be imported into KMS key {key}, because "
                                  f"another key material (id: {second}) is pending rotation.")
        kms.rotate_key_on_demand(KeyId=key)
        described = kms.describe_key(KeyId=key)["KeyMetadata"]
        self.assertEqual(described["CurrentKeyMaterialId"], second)
        self.assertEqual(described["ExpirationModel"], "KEY_MATERIAL_EXPIRES")
        self.assertEqual(kms.decrypt(CiphertextBlob=old_blob)["Plaintext"], b"under the first")
        new_blob = kms.encrypt(KeyId=key, Plaintext=b"under the second")["CiphertextBlob"]
        self.assertEqual(kms.decrypt(CiphertextBlob=new_blob)["Plaintext"], b"under the second")
        rotations = self.listing(key)
        self.assertEqual([(e["KeyMaterialId"], e["KeyMaterialState"], e["RotationType"]) for e in rotations],
                         [(second, "CURRENT", "ON_DEMAND")])
        self.assertIn("RotationDate", rotations[0])
        every = self.listing(key, "ALL_KEY_MATERIAL")
        self.assertEqual([(e["KeyMaterialId"], e["KeyMaterialState"]) for e in every],
                         [(first, "NON_CURRENT"), (second, "CURRENT")])
        self.assertNotIn("RotationDate", every[0])
        # Re-importing the first (the default is now EXISTING_KEY_MATERIAL) keeps its description.
        self.assertEqual(import_into(key, first_material, KeyMaterialId=first)["KeyMaterialId"], first)
        self.assertEqual(self.listing(key, "ALL_KEY_MATERIAL")[0]["KeyMaterialDescription"], "first one")

        # Deleting the non-current material: the key waits for it, and re-importing it restores all.
        deleted = kms.delete_imported_key_material(KeyId=key, KeyMaterialId=first)
        self.assertEqual(deleted["KeyId"], arn)
        self.assertEqual(deleted["KeyMaterialId"], first)
        self.assertEqual(kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"], "PendingImport")
        self.assertEqual([e["ImportState"] for e in self.listing(key, "ALL_KEY_MATERIAL")],
                         ["PENDING_IMPORT", "IMPORTED"])
        with self.assertRaises(kms.exceptions.KMSInvalidStateException):
            kms.decrypt(CiphertextBlob=old_blob)
        # Material the key never had, as EXISTING_KEY_MATERIAL (with or without an id): refused.
        with self.assertRaises(kms.exceptions.IncorrectKeyMaterialException):
            import_into(key, third_material, ImportType="EXISTING_KEY_MATERIAL")
        with self.assertRaises(kms.exceptions.IncorrectKeyMaterialException):
            import_into(key, third_material, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=first)
        import_into(key, first_material, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=first)
        self.assertEqual(kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"], "Enabled")
        self.assertEqual(kms.decrypt(CiphertextBlob=old_blob)["Plaintext"], b"under the first")
        # The default deletes the current material.
        self.assertEqual(kms.delete_imported_key_material(KeyId=key)["KeyMaterialId"], second)
        self.assertEqual(kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"], "PendingImport")
        import_into(key, second_material)
        self.assertEqual(kms.decrypt(CiphertextBlob=new_blob)["Plaintext"], b"under the second")

    def test_pending_material_deleted_goes_and_other_material_takes_its_place(self):
        key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        import_into(key, os.urandom(32))
        pending = import_into(key, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
        self.assertEqual(kms.delete_imported_key_material(KeyId=key, KeyMaterialId=pending)["KeyMaterialId"], pending)
        self.assertEqual(kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"], "Enabled")
        self.assertEqual(len(self.listing(key, "ALL_KEY_MATERIAL")), 1)
        replacement = import_into(key, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
        self.assertEqual(self.listing(key, "ALL_KEY_MATERIAL")[1]["KeyMaterialId"], replacement)

    def test_all_key_material_of_a_generated_key(self):
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.rotate_key_on_demand(KeyId=key)
        current = kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
        self.assertEqual([e["KeyMaterialId"] for e in self.listing(key)], [current])
        every = self.listing(key, "ALL_KEY_MATERIAL")
        self.assertEqual([e["KeyMaterialState"] for e in every], ["NON_CURRENT", "CURRENT"])
        self.assertNotIn("RotationDate", every[0])
        self.assertNotIn("ImportState", every[0])
        self.assertEqual(every[1]["RotationType"], "ON_DEMAND")

    def test_authorization(self):
        key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        import_into(key, os.urandom(32))
        token, encrypted = wrapped(key, os.urandom(32))
        with self.assertRaises(other.exceptions.ClientError) as caught:
            other.import_key_material(KeyId=key, ImportToken=token, EncryptedKeyMaterial=encrypted,
                                      ImportType="NEW_KEY_MATERIAL", ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        self.assertEqual(caught.exception.response["Error"]["Code"], "AccessDeniedException")
        kms.import_key_material(KeyId=key, ImportToken=token, EncryptedKeyMaterial=encrypted,
                                ImportType="NEW_KEY_MATERIAL", ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        with self.assertRaises(other.exceptions.ClientError) as caught:
            other.rotate_key_on_demand(KeyId=key)
        self.assertEqual(caught.exception.response["Error"]["Code"], "AccessDeniedException")
        with self.assertRaises(other.exceptions.ClientError) as caught:
            other.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")
        self.assertEqual(caught.exception.response["Error"]["Code"], "AccessDeniedException")
        self.assertEqual(len(self.listing(key, "ALL_KEY_MATERIAL")), 2)

    def test_bad_inputs(self):
        key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        first = import_into(key, os.urandom(32))["KeyMaterialId"]
        token, encrypted = wrapped(key, os.urandom(32))
        common = {"KeyId": key, "ImportToken": token, "EncryptedKeyMaterial": encrypted,
                  "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
        long = "d" * 257
        self.refused("ValidationException",
                     f"1 validation error detected: Value '{long}' at 'keyMaterialDescription' failed to satisfy "
                     "constraint: Member must have length less than or equal to 256",
                     unchecked.import_key_material, KeyMaterialDescription=long, **common)
        self.refused("ValidationException",
                     "1 validation error detected: Value 'no*stars' at 'keyMaterialDescription' failed to satisfy "
                     "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_\\s.-]+$",
                     unchecked.import_key_material, KeyMaterialDescription="no*stars", **common)
        error = self.refused("ValidationException", None, unchecked.import_key_material, ImportType="REPLACE", **common)
        self.assertIn("NEW_KEY_MATERIAL, EXISTING_KEY_MATERIAL", error["Message"])
        # AWS's text for a KeyMaterialId with NEW_KEY_MATERIAL is not documented: the code only.
        self.refused("ValidationException", None, unchecked.import_key_material, ImportType="NEW_KEY_MATERIAL",
                     KeyMaterialId=first, **common)
        self.refused("ValidationException", None, unchecked.delete_imported_key_material, KeyId=key,
                     KeyMaterialId="XYZ")
        self.refused("NotFoundException", None, kms.delete_imported_key_material, KeyId=key, KeyMaterialId="0" * 64)
        error = self.refused("ValidationException", None, unchecked.list_key_rotations, KeyId=key,
                             IncludeKeyMaterial="SOME")
        self.assertIn("ALL_KEY_MATERIAL, ROTATIONS_ONLY", error["Message"])
        # Automatic rotation stays refused for imported material, as at AWS.
        with self.assertRaises(kms.exceptions.UnsupportedOperationException):
            kms.enable_key_rotation(KeyId=key)
        # New material for an HMAC key (it cannot rotate): refused; AWS's text is not documented.
        hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", Origin="EXTERNAL")["KeyMetadata"]
        import_into(hmac_key["KeyId"], os.urandom(32))
        with self.assertRaises(kms.exceptions.UnsupportedOperationException):
            import_into(hmac_key["KeyId"], os.urandom(32), ImportType="NEW_KEY_MATERIAL")


class AwsCli(unittest.TestCase):
    """The same through the aws CLI, as a user types it."""

    def aws(self, *args):
        env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
        result = subprocess.run(
            ["aws", "--endpoint-url", os.environ["KMS_AWS_ENDPOINT"], "--output", "json", "kms", *args],
            capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def test_import_rotate_list_and_delete(self):
        key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        first = import_into(key, os.urandom(32))["KeyMaterialId"]
        token, encrypted = wrapped(key, os.urandom(32))
        with tempfile.TemporaryDirectory() as folder:
            for name, data in (("token", token), ("material", encrypted)):
                with open(os.path.join(folder, name), "wb") as f:
                    f.write(data)
            second = self.aws("import-key-material", "--key-id", key,
                              "--import-token", f"fileb://{folder}/token",
                              "--encrypted-key-material", f"fileb://{folder}/material",
                              "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE",
                              "--import-type", "NEW_KEY_MATERIAL",
                              "--key-material-description", "from the aws CLI")["KeyMaterialId"]
        listed = self.aws("list-key-rotations", "--key-id", key, "--include-key-material", "ALL_KEY_MATERIAL")
        self.assertEqual([(e["KeyMaterialId"], e["KeyMaterialState"]) for e in listed["Rotations"]],
                         [(first, "CURRENT"), (second, "PENDING_ROTATION")])
        self.assertEqual(listed["Rotations"][1]["KeyMaterialDescription"], "from the aws CLI")
        self.aws("rotate-key-on-demand", "--key-id", key)
        self.assertEqual(self.aws("describe-key", "--key-id", key)["KeyMetadata"]["CurrentKeyMaterialId"], second)
        deleted = self.aws("delete-imported-key-material", "--key-id", key, "--key-material-id", first)
        self.assertEqual(deleted["KeyMaterialId"], first)


if __name__ == "__main__":
    unittest.main(verbosity=2)
