"""The aws CLI against kmsd's AWS JSON endpoint: each command as a user types it, its output
compared with what it must be. Needs KMS_AWS_ENDPOINT and an admin's AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY; run by Tests/KMSServerTests/AWSClientTests.swift."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

ENV = dict(os.environ, AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
ENV.pop("AWS_PROFILE", None)


def aws(*args, ok=True, region="us-east-1"):
    result = subprocess.run(
        ["aws", "--endpoint-url", os.environ["KMS_AWS_ENDPOINT"], "--region", region, "--output", "json", "kms", *args],
        capture_output=True, text=True, env=ENV, timeout=60,
    )
    if ok and result.returncode != 0:
        raise AssertionError(f"aws kms {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def out(*args, region="us-east-1"):
    text = aws(*args, region=region).stdout
    return json.loads(text) if text.strip() else None


class AwsCli(unittest.TestCase):
    def test_the_key_commands(self):
        meta = out("create-key", "--description", "from the aws CLI")["KeyMetadata"]
        key = meta["KeyId"]
        alias = f"alias/cli-{uuid.uuid4().hex[:8]}"
        self.assertEqual((meta["Description"], meta["KeyState"], meta["Enabled"]), ("from the aws CLI", "Enabled", True))
        self.assertIsNone(out("create-alias", "--alias-name", alias, "--target-key-id", key))
        self.assertIn(key, [k["KeyId"] for k in out("list-keys")["Keys"]])
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in out("list-aliases")["Aliases"]}
        self.assertEqual(aliases[alias], key)
        self.assertEqual(out("describe-key", "--key-id", alias)["KeyMetadata"]["Arn"], meta["Arn"])

        with tempfile.TemporaryDirectory() as folder:
            plain = os.path.join(folder, "plain")
            with open(plain, "wb") as f:
                f.write(b"the aws CLI was here")
            encrypted = out("encrypt", "--key-id", alias, "--plaintext", f"fileb://{plain}", "--encryption-context", "app=cli")
            self.assertEqual(encrypted["KeyId"], meta["Arn"])
            blob = os.path.join(folder, "blob")
            with open(blob, "wb") as f:
                f.write(base64.b64decode(encrypted["CiphertextBlob"]))
            decrypted = out("decrypt", "--ciphertext-blob", f"fileb://{blob}", "--encryption-context", "app=cli")
            self.assertEqual(base64.b64decode(decrypted["Plaintext"]), b"the aws CLI was here")
            other = out("create-key")["KeyMetadata"]
            moved = out("re-encrypt", "--ciphertext-blob", f"fileb://{blob}", "--source-encryption-context", "app=cli",
                        "--destination-key-id", other["KeyId"])
            self.assertEqual((moved["SourceKeyId"], moved["KeyId"]), (meta["Arn"], other["Arn"]))

        data_key = out("generate-data-key", "--key-id", key, "--key-spec", "AES_256")
        self.assertEqual(len(base64.b64decode(data_key["Plaintext"])), 32)
        without = out("generate-data-key-without-plaintext", "--key-id", key, "--number-of-bytes", "16")
        self.assertNotIn("Plaintext", without)
        self.assertEqual(len(base64.b64decode(out("generate-random", "--number-of-bytes", "24")["Plaintext"])), 24)

        self.assertIsNone(out("disable-key", "--key-id", key))
        self.assertFalse(out("describe-key", "--key-id", key)["KeyMetadata"]["Enabled"])
        self.assertIsNone(out("enable-key", "--key-id", key))
        deletion = out("schedule-key-deletion", "--key-id", key, "--pending-window-in-days", "7")
        self.assertEqual((deletion["KeyState"], deletion["PendingWindowInDays"]), ("PendingDeletion", 7))
        self.assertEqual(out("cancel-key-deletion", "--key-id", key)["KeyId"], meta["Arn"])

    def test_policies_and_grants(self):
        key = out("create-key")["KeyMetadata"]["KeyId"]
        policy = json.loads(out("get-key-policy", "--key-id", key, "--policy-name", "default", "--query", "Policy", "--output", "json"))
        self.assertEqual(policy["Statement"][0]["Action"], "kms:*")
        self.assertIsNone(out("put-key-policy", "--key-id", key, "--policy-name", "default", "--policy", json.dumps(policy)))
        grant = out("create-grant", "--key-id", key, "--grantee-principal", "arn:aws:iam::111122223333:role/reader",
                    "--operations", "Decrypt", "Encrypt")
        listed = out("list-grants", "--key-id", key)["Grants"]
        self.assertEqual([g["GrantId"] for g in listed], [grant["GrantId"]])
        self.assertEqual(sorted(listed[0]["Operations"]), ["Decrypt", "Encrypt"])
        self.assertIsNone(out("revoke-grant", "--key-id", key, "--grant-id", grant["GrantId"]))
        second = out("create-grant", "--key-id", key, "--grantee-principal", "arn:aws:iam::111122223333:role/reader",
                     "--retiring-principal", "arn:aws:iam::111122223333:user/admin", "--operations", "Decrypt")
        self.assertIsNone(out("retire-grant", "--grant-token", second["GrantToken"]))
        self.assertEqual(out("list-grants", "--key-id", key)["Grants"], [])

    def test_the_remaining_key_alias_policy_and_grant_commands(self):
        first = out("create-key")["KeyMetadata"]
        second = out("create-key")["KeyMetadata"]
        key = first["KeyId"]
        self.assertIsNone(out("update-key-description", "--key-id", key, "--description", "renamed"))
        self.assertEqual(out("describe-key", "--key-id", key)["KeyMetadata"]["Description"], "renamed")

        alias = f"alias/cli-{uuid.uuid4().hex[:8]}"
        self.assertIsNone(out("create-alias", "--alias-name", alias, "--target-key-id", key))
        self.assertIsNone(out("update-alias", "--alias-name", alias, "--target-key-id", second["KeyId"]))
        by_key = out("list-aliases", "--key-id", second["KeyId"])["Aliases"]
        self.assertEqual([(a["AliasName"], a["TargetKeyId"]) for a in by_key], [(alias, second["KeyId"])])
        self.assertIsNone(out("delete-alias", "--alias-name", alias))
        self.assertNotIn(alias, [a["AliasName"] for a in out("list-aliases")["Aliases"]])

        self.assertEqual(out("list-key-policies", "--key-id", key)["PolicyNames"], ["default"])

        self.assertIsNone(out("tag-resource", "--key-id", key, "--tags", "TagKey=team,TagValue=payments"))
        self.assertEqual(out("list-resource-tags", "--key-id", key)["Tags"], [{"TagKey": "team", "TagValue": "payments"}])
        self.assertIsNone(out("untag-resource", "--key-id", key, "--tag-keys", "team"))
        self.assertEqual(out("list-resource-tags", "--key-id", key)["Tags"], [])

        self.assertIsNone(out("enable-key-rotation", "--key-id", key, "--rotation-period-in-days", "90"))
        status = out("get-key-rotation-status", "--key-id", key)
        self.assertEqual((status["KeyRotationEnabled"], status["RotationPeriodInDays"]), (True, 90))
        # AWS's documented example answers the key id; which form AWS sends for a key id given is not
        # settled here (kmsd answers the ARN, as for CancelKeyDeletion), so either is accepted.
        self.assertIn(out("rotate-key-on-demand", "--key-id", key)["KeyId"], (key, first["Arn"]))
        rotations = out("list-key-rotations", "--key-id", key)["Rotations"]
        self.assertEqual([r["RotationType"] for r in rotations], ["ON_DEMAND"])
        self.assertIsNone(out("disable-key-rotation", "--key-id", key))
        self.assertFalse(out("get-key-rotation-status", "--key-id", key)["KeyRotationEnabled"])

        retiring = "arn:aws:iam::111122223333:user/admin"
        grant = out("create-grant", "--key-id", key, "--grantee-principal", "arn:aws:iam::111122223333:role/reader",
                    "--retiring-principal", retiring, "--operations", "Decrypt")
        retirable = out("list-retirable-grants", "--retiring-principal", retiring)["Grants"]
        self.assertIn(grant["GrantId"], [g["GrantId"] for g in retirable])
        self.assertIsNone(out("retire-grant", "--key-id", key, "--grant-id", grant["GrantId"]))
        retirable = out("list-retirable-grants", "--retiring-principal", retiring)["Grants"]
        self.assertNotIn(grant["GrantId"], [g["GrantId"] for g in retirable])

    def test_multi_region_keys(self):
        # kmsd serves us-east-1 and eu-west-1 here (AWSClientTests.runOnNewStack).
        meta = out("create-key", "--multi-region", "--description", "primary")["KeyMetadata"]
        key = meta["KeyId"]
        self.assertRegex(key, r"^mrk-[0-9a-f]{32}$")
        self.assertTrue(meta["MultiRegion"])
        self.assertEqual(meta["MultiRegionConfiguration"]["MultiRegionKeyType"], "PRIMARY")
        self.assertEqual(meta["MultiRegionConfiguration"]["PrimaryKey"], {"Arn": meta["Arn"], "Region": "us-east-1"})
        with tempfile.TemporaryDirectory() as folder:
            plain = os.path.join(folder, "plain")
            with open(plain, "wb") as f:
                f.write(b"everywhere")
            blob = out("encrypt", "--key-id", key, "--plaintext", f"fileb://{plain}")["CiphertextBlob"]

        replicated = out("replicate-key", "--key-id", key, "--replica-region", "eu-west-1",
                         "--description", "replica", "--tags", "TagKey=team,TagValue=eu")
        replica = replicated["ReplicaKeyMetadata"]
        self.assertEqual(replica["KeyId"], key)
        self.assertEqual(replica["Arn"], meta["Arn"].replace(":us-east-1:", ":eu-west-1:"))
        self.assertEqual(replica["MultiRegionConfiguration"]["MultiRegionKeyType"], "REPLICA")
        self.assertEqual(replicated["ReplicaTags"], [{"TagKey": "team", "TagValue": "eu"}])
        self.assertIn("kms:*", replicated["ReplicaPolicy"])
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "blob")
            with open(path, "wb") as f:
                f.write(base64.b64decode(blob))
            decrypted = out("decrypt", "--ciphertext-blob", f"fileb://{path}", region="eu-west-1")
        self.assertEqual(base64.b64decode(decrypted["Plaintext"]), b"everywhere")
        self.assertEqual(decrypted["KeyId"], replica["Arn"])
        again = aws("replicate-key", "--key-id", key, "--replica-region", "eu-west-1", ok=False)
        self.assertIn("(AlreadyExistsException) when calling the ReplicateKey operation", again.stderr)

        self.assertIsNone(out("update-primary-region", "--key-id", key, "--primary-region", "eu-west-1"))
        swapped = out("describe-key", "--key-id", key)["KeyMetadata"]["MultiRegionConfiguration"]
        self.assertEqual((swapped["MultiRegionKeyType"], swapped["PrimaryKey"]["Region"]), ("REPLICA", "eu-west-1"))
        self.assertEqual([r["Region"] for r in swapped["ReplicaKeys"]], ["us-east-1"])
        refused = aws("update-primary-region", "--key-id", key, "--primary-region", "eu-west-1", ok=False)
        self.assertIn("(UnsupportedOperationException) when calling the UpdatePrimaryRegion operation", refused.stderr)
        pending = out("schedule-key-deletion", "--key-id", key, "--pending-window-in-days", "7", region="eu-west-1")
        self.assertEqual(pending["KeyState"], "PendingReplicaDeletion")
        self.assertNotIn("DeletionDate", pending)

    def test_cloudhsm_key_store_keys(self):
        # An AWS_CLOUDHSM store over a SoftHSM2 token (AWSClientTests), its key and its random bytes.
        cluster, pin = os.environ["KMS_HSM_CLUSTER_ID"], os.environ["KMS_HSM_PIN"]
        name = "hsm-" + uuid.uuid4().hex[:8]
        created = aws("create-custom-key-store", "--custom-key-store-name", name, "--custom-key-store-type",
                      "AWS_CLOUDHSM", "--cloud-hsm-cluster-id", cluster, "--key-store-password", pin)
        self.assertNotIn(pin, created.stdout + created.stderr)
        store = json.loads(created.stdout)["CustomKeyStoreId"]
        refused = aws("create-key", "--origin", "AWS_CLOUDHSM", "--custom-key-store-id", store, ok=False)
        self.assertIn("(CustomKeyStoreInvalidStateException) when calling the CreateKey operation", refused.stderr)
        self.assertIsNone(out("connect-custom-key-store", "--custom-key-store-id", store))
        metadata = out("create-key", "--origin", "AWS_CLOUDHSM", "--custom-key-store-id", store)["KeyMetadata"]
        self.assertEqual((metadata["Origin"], metadata["CustomKeyStoreId"], metadata["CloudHsmClusterId"]),
                         ("AWS_CLOUDHSM", store, cluster))
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)

        def file_of(name, data):
            path = os.path.join(folder, name)
            with open(path, "wb") as f:
                f.write(data)
            return f"fileb://{path}"

        encrypted = out("encrypt", "--key-id", metadata["KeyId"], "--plaintext", file_of("plain", b"in the token"),
                        "--encryption-context", "app=hsm")
        self.assertEqual(base64.b64decode(encrypted["CiphertextBlob"])[0], 2)
        blob = file_of("blob", base64.b64decode(encrypted["CiphertextBlob"]))
        opened = out("decrypt", "--ciphertext-blob", blob, "--encryption-context", "app=hsm")
        self.assertEqual((base64.b64decode(opened["Plaintext"]), opened["KeyId"]), (b"in the token", metadata["Arn"]))
        data_key = out("generate-data-key", "--key-id", metadata["KeyId"], "--key-spec", "AES_256")
        data_key_blob = file_of("data-key", base64.b64decode(data_key["CiphertextBlob"]))
        self.assertEqual(out("decrypt", "--ciphertext-blob", data_key_blob)["Plaintext"], data_key["Plaintext"])
        random = out("generate-random", "--number-of-bytes", "24", "--custom-key-store-id", store)
        self.assertEqual(len(base64.b64decode(random["Plaintext"])), 24)
        pair = aws("generate-data-key-pair", "--key-id", metadata["KeyId"], "--key-pair-spec", "ECC_NIST_P256",
                   ok=False)
        self.assertIn("(UnsupportedOperationException) when calling the GenerateDataKeyPair operation", pair.stderr)
        self.assertIsNone(out("disconnect-custom-key-store", "--custom-key-store-id", store))
        self.assertEqual(out("describe-key", "--key-id", metadata["KeyId"])["KeyMetadata"]["KeyState"], "Unavailable")
        unavailable = aws("decrypt", "--ciphertext-blob", blob, "--encryption-context", "app=hsm", ok=False)
        self.assertIn("(KMSInvalidStateException) when calling the Decrypt operation", unavailable.stderr)

    def test_custom_key_stores(self):
        # The aws CLI v1 fetches an http(s):// argument's URL and sends its content unless told
        # not to (cli_follow_urlparam): the proxy endpoints here are to be sent as they are.
        config = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
        config.write("[default]\ncli_follow_urlparam = false\n")
        config.close()
        self.addCleanup(os.unlink, config.name)
        saved = ENV.get("AWS_CONFIG_FILE")
        ENV["AWS_CONFIG_FILE"] = config.name
        self.addCleanup(lambda: ENV.pop("AWS_CONFIG_FILE") if saved is None else ENV.update(AWS_CONFIG_FILE=saved))
        # A fake XKS proxy (AWSClientTests) that accepts one credential; the secret is never shown again.
        secret = os.environ["KMS_XKS_SECRET"]
        access_key = os.environ["KMS_XKS_ACCESS_KEY_ID"]
        endpoint = os.environ["KMS_XKS_ENDPOINT"]
        name = "xks-" + uuid.uuid4().hex[:8]
        path = f"/{name}/kms/xks/v1"
        credential = json.dumps({"AccessKeyId": access_key, "RawSecretAccessKey": secret})

        def create(store_name, store_path, store_endpoint=endpoint, store_credential=credential, ok=True):
            return aws("create-custom-key-store", "--custom-key-store-name", store_name,
                       "--custom-key-store-type", "EXTERNAL_KEY_STORE", "--xks-proxy-uri-endpoint", store_endpoint,
                       "--xks-proxy-uri-path", store_path, "--xks-proxy-connectivity", "PUBLIC_ENDPOINT",
                       "--xks-proxy-authentication-credential", store_credential, ok=ok)

        store = json.loads(create(name, path).stdout)["CustomKeyStoreId"]
        self.assertRegex(store, r"^cks-[0-9a-f]{17}$")
        described = aws("describe-custom-key-stores", "--custom-key-store-id", store)
        self.assertNotIn(secret, described.stdout + described.stderr)
        entry = json.loads(described.stdout)["CustomKeyStores"][0]
        self.assertEqual(entry["CustomKeyStoreName"], name)
        self.assertEqual(entry["CustomKeyStoreType"], "EXTERNAL_KEY_STORE")
        self.assertEqual(entry["ConnectionState"], "DISCONNECTED")
        self.assertEqual(entry["XksProxyConfiguration"], {
            "Connectivity": "PUBLIC_ENDPOINT", "AccessKeyId": access_key, "UriEndpoint": endpoint, "UriPath": path})
        by_name = out("describe-custom-key-stores", "--custom-key-store-name", name)["CustomKeyStores"]
        self.assertEqual([s["CustomKeyStoreId"] for s in by_name], [store])

        def refused(code, operation, result):
            self.assertIn(f"({code}) when calling the {operation} operation", result.stderr)
            self.assertNotIn(secret, result.stderr)

        refused("CustomKeyStoreNameInUseException", "CreateCustomKeyStore", create(name, "/x" + path, ok=False))
        refused("XksProxyUriInUseException", "CreateCustomKeyStore", create(name + "-2", path, ok=False))
        refused("XksProxyUriUnreachableException", "CreateCustomKeyStore",
                create(name + "-3", path, store_endpoint="https://" + name + ".example.com", ok=False))
        wrong = json.dumps({"AccessKeyId": access_key, "RawSecretAccessKey": secret[::-1]})
        refused("XksProxyIncorrectAuthenticationCredentialException", "CreateCustomKeyStore",
                create(name + "-4", "/four" + path, store_credential=wrong, ok=False))
        refused("UnsupportedOperationException", "CreateCustomKeyStore",
                aws("create-custom-key-store", "--custom-key-store-name", name + "-vpc",
                    "--custom-key-store-type", "EXTERNAL_KEY_STORE", "--xks-proxy-uri-endpoint", endpoint,
                    "--xks-proxy-uri-path", "/vpc" + path, "--xks-proxy-connectivity", "VPC_ENDPOINT_SERVICE",
                    "--xks-proxy-authentication-credential", credential, ok=False))
        refused("CustomKeyStoreInvalidStateException", "DisconnectCustomKeyStore",
                aws("disconnect-custom-key-store", "--custom-key-store-id", store, ok=False))
        refused("CustomKeyStoreInvalidStateException", "CreateKey",
                aws("create-key", "--origin", "EXTERNAL_KEY_STORE", "--custom-key-store-id", store,
                    "--xks-key-id", "external-key-1", ok=False))
        refused("CustomKeyStoreNotFoundException", "DescribeCustomKeyStores",
                aws("describe-custom-key-stores", "--custom-key-store-id", "cks-0123456789abcdef0", ok=False))

        self.assertIsNone(out("connect-custom-key-store", "--custom-key-store-id", store))
        entry = out("describe-custom-key-stores", "--custom-key-store-id", store)["CustomKeyStores"][0]
        self.assertEqual(entry["ConnectionState"], "CONNECTED")
        self.assertNotIn("ConnectionErrorCode", entry)
        self.assertIsNone(out("connect-custom-key-store", "--custom-key-store-id", store))
        refused("CustomKeyStoreInvalidStateException", "DeleteCustomKeyStore",
                aws("delete-custom-key-store", "--custom-key-store-id", store, ok=False))
        refused("CustomKeyStoreInvalidStateException", "UpdateCustomKeyStore",
                aws("update-custom-key-store", "--custom-key-store-id", store, "--xks-proxy-uri-endpoint",
                    "https://" + name + ".example.com", ok=False))
        self.assertIsNone(out("disconnect-custom-key-store", "--custom-key-store-id", store))
        refused("XksProxyUriUnreachableException", "UpdateCustomKeyStore",
                aws("update-custom-key-store", "--custom-key-store-id", store, "--xks-proxy-uri-endpoint",
                    "https://" + name + ".example.com", ok=False))

        renamed = name + "-renamed"
        self.assertIsNone(out("update-custom-key-store", "--custom-key-store-id", store,
                              "--new-custom-key-store-name", renamed, "--xks-proxy-uri-path", "/moved" + path,
                              "--xks-proxy-authentication-credential", credential))
        entry = out("describe-custom-key-stores", "--custom-key-store-id", store)["CustomKeyStores"][0]
        self.assertEqual((entry["CustomKeyStoreName"], entry["XksProxyConfiguration"]["UriPath"]),
                         (renamed, "/moved" + path))
        first = out("describe-custom-key-stores", "--limit", "1")
        self.assertEqual(len(first["CustomKeyStores"]), 1)
        everything = out("describe-custom-key-stores")["CustomKeyStores"]
        self.assertIn(store, [s["CustomKeyStoreId"] for s in everything])
        self.assertIsNone(out("delete-custom-key-store", "--custom-key-store-id", store))
        refused("CustomKeyStoreNotFoundException", "DeleteCustomKeyStore",
                aws("delete-custom-key-store", "--custom-key-store-id", store, ok=False))

    def test_errors_read_as_aws_errors(self):
        failed = aws("describe-key", "--key-id", "alias/missing", ok=False)
        self.assertIn(failed.returncode, (254, 255))  # aws CLI v1 exits 255 on a service error, v2 254
        self.assertIn("An error occurred (NotFoundException) when calling the DescribeKey operation", failed.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
