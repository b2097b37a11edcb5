import Foundation
import KMSTestSupport
import Testing

/// The `kms` command line against a real stack, as a user types it.
@Suite struct CLITests {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static func kms(_ arguments: [String], env: [String: String], stdin: Data? = nil) async throws -> Result {
        let run = try await runChildProcess(
            URL(fileURLWithPath: binaryPath("kms", environment: "KMS_CLI")), arguments, environment: env,
            input: stdin ?? Data())
        return Result(status: run.status, stdout: run.stdoutText, stderr: run.stderrText)
    }

    @Test func createAliasEncryptDecryptAndErrors() async throws {
        let stack = try await KMSStack.start()
        let env = stack.environment
        let keyID = try await Self.kms(
            ["create-key", "--description", "cli", "--query", "KeyMetadata.KeyId", "--output", "text"], env: env)
        #expect(keyID.status == 0, "\(keyID.stderr)")
        let id = keyID.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 36)
        #expect(
            try await Self.kms(["create-alias", "--alias-name", "alias/cli", "--target-key-id", id], env: env).status
                == 0)

        let secret = stack.worker.directory.appendingPathComponent("secret.txt")
        try Data("top secret\n".utf8).write(to: secret)
        let encrypted = try await Self.kms(
            [
                "encrypt", "--key-id", "alias/cli", "--plaintext", "fileb://\(secret.path)", "--encryption-context",
                "app=cli",
                "--output", "text", "--query", "CiphertextBlob",
            ],
            env: env
        )
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        let blobFile = stack.worker.directory.appendingPathComponent("c.bin")
        try #require(Data(base64Encoded: encrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))).write(
            to: blobFile)

        let decrypted = try await Self.kms(
            [
                "decrypt", "--ciphertext-blob", "fileb://\(blobFile.path)", "--encryption-context", "{\"app\":\"cli\"}",
                "--output", "text", "--query", "Plaintext",
            ],
            env: env
        )
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        #expect(
            Data(base64Encoded: decrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                == Data("top secret\n".utf8))

        // Plaintext from standard input, full JSON output.
        let fromStdin = try await Self.kms(
            ["encrypt", "--key-id", id, "--plaintext", "-"], env: env, stdin: Data("piped".utf8))
        #expect(fromStdin.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(fromStdin.stdout.utf8)) as? [String: Any]
        #expect(json?["KeyId"] as? String == "arn:aws:kms:us-east-1:111122223333:key/\(id)")
        #expect(json?["EncryptionAlgorithm"] as? String == "SYMMETRIC_DEFAULT")

        let wrongContext = try await Self.kms(["decrypt", "--ciphertext-blob", "fileb://\(blobFile.path)"], env: env)
        #expect(wrongContext.status == 254)
        #expect(wrongContext.stderr.contains("(InvalidCiphertextException) when calling the Decrypt operation"))
        #expect(wrongContext.stdout.isEmpty)

        let missing = try await Self.kms(["describe-key", "--key-id", "alias/none"], env: env)
        #expect(missing.status == 254)
        #expect(missing.stderr.contains("NotFoundException"))

        let unreachable = try await Self.kms(["list-keys", "--endpoint", "127.0.0.1:1", "--timeout", "2"], env: env)
        #expect(unreachable.status == 254)
        #expect(unreachable.stderr.contains("ConnectionFailedException"))
        await stack.stop()
    }

    /// Every request member of botocore's model has its option (Tests/aws-clients/cli_coverage.py),
    /// and a few of the options added for it reach the service.
    @Test func everyRequestMemberHasAnOption() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("aws-clients/cli_coverage.py").path
        var environment = ProcessInfo.processInfo.environment
        environment["KMS_CLI"] = binaryPath("kms", environment: "KMS_CLI")
        let coverage = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", script], environment: environment,
            mergeStandardError: true)
        #expect(coverage.status == 0, "\(coverage.stdoutText)")

        let stack = try await KMSStack.start()
        let env = stack.environment
        let key = try await Self.kms(
            ["create-key", "--query", "KeyMetadata.KeyId", "--output", "text"], env: env
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let names = try await Self.kms(
            ["list-key-policies", "--key-id", key, "--limit", "1", "--query", "PolicyNames", "--output", "text"],
            env: env)
        #expect(names.status == 0 && names.stdout == "default\n", "\(names.stderr)")
        let blob = try await Self.kms(
            ["encrypt", "--key-id", key, "--plaintext", "hello", "--query", "CiphertextBlob", "--output", "text"],
            env: env)
        let raw = try #require(Data(base64Encoded: blob.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let moved = try await Self.kms(
            [
                "re-encrypt", "--ciphertext-blob", "-", "--destination-key-id", key,
                "--source-encryption-algorithm", "SYMMETRIC_DEFAULT", "--destination-encryption-algorithm",
                "SYMMETRIC_DEFAULT", "--query", "SourceEncryptionAlgorithm", "--output", "text",
            ], env: env, stdin: raw)
        #expect(moved.status == 0 && moved.stdout == "SYMMETRIC_DEFAULT\n", "\(moved.stderr)")
        let wrong = try await Self.kms(
            [
                "re-encrypt", "--ciphertext-blob", "-", "--destination-key-id", key,
                "--destination-encryption-algorithm", "RSAES_OAEP_SHA_256",
            ], env: env, stdin: raw)
        #expect(wrong.status != 0, "RSAES_OAEP_SHA_256 for a symmetric destination: \(wrong.stdout)")
        await stack.stop()
    }

    @Test func everySubcommandHasHelp() async throws {
        let names = [
            "create-key", "describe-key", "list-keys", "update-key-description", "enable-key", "disable-key",
            "schedule-key-deletion", "cancel-key-deletion", "encrypt", "decrypt", "re-encrypt", "generate-data-key",
            "generate-data-key-without-plaintext", "generate-random", "create-alias", "update-alias", "delete-alias",
            "list-aliases",
            "get-key-policy", "put-key-policy", "list-key-policies",
            "create-grant", "list-grants", "list-retirable-grants", "retire-grant", "revoke-grant",
            "enable-key-rotation", "disable-key-rotation", "get-key-rotation-status", "rotate-key-on-demand",
            "list-key-rotations", "get-key-last-usage", "tag-resource", "untag-resource", "list-resource-tags",
            "sign", "verify", "get-public-key", "generate-mac", "verify-mac", "generate-data-key-pair",
            "generate-data-key-pair-without-plaintext", "derive-shared-secret", "get-parameters-for-import",
            "import-key-material", "delete-imported-key-material",
        ]
        for name in names {
            let help = try await Self.kms([name, "--help"], env: ["KMS_ENDPOINT": "127.0.0.1:1"])
            #expect(help.status == 0, "\(name)")
            #expect(help.stdout.contains("USAGE: kms \(name)"), "\(name)")
        }
    }

    @Test func tagsAndRotationFromTheCommandLine() async throws {
        let stack = try await KMSStack.start()
        let env = stack.environment
        let created = try await Self.kms(
            ["create-key", "--tags", "team=payments", "env=prod", "--query", "KeyMetadata.KeyId", "--output", "text"],
            env: env)
        #expect(created.status == 0, "\(created.stderr)")
        let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            try await Self.kms(["tag-resource", "--key-id", id, "--tags", "TagKey=owner,TagValue=ops"], env: env).status
                == 0)
        let listed = try await Self.kms(
            ["list-resource-tags", "--key-id", id, "--query", "Tags", "--output", "json"], env: env)
        #expect(listed.stdout.contains("\"owner\"") && listed.stdout.contains("\"payments\""), "\(listed.stdout)")
        #expect(
            try await Self.kms(["untag-resource", "--key-id", id, "--tag-keys", "env", "owner"], env: env).status == 0)
        #expect(
            try await Self.kms(["enable-key-rotation", "--key-id", id, "--rotation-period-in-days", "180"], env: env)
                .status == 0)
        let status = try await Self.kms(
            ["get-key-rotation-status", "--key-id", id, "--query", "RotationPeriodInDays", "--output", "text"], env: env
        )
        #expect(status.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "180")
        #expect(try await Self.kms(["rotate-key-on-demand", "--key-id", id], env: env).status == 0)
        let rotations = try await Self.kms(
            ["list-key-rotations", "--key-id", id, "--query", "Rotations[0].RotationType", "--output", "text"], env: env
        )
        #expect(rotations.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ON_DEMAND")
        let bad = try await Self.kms(["tag-resource", "--key-id", id, "--tags", "aws:x=1"], env: env)
        #expect(bad.status == 254 && bad.stderr.contains("TagException"))
        await stack.stop()
    }

    @Test func theAuditLogFromTheCommandLine() async throws {
        let stack = try await KMSStack.start()
        let env = stack.environment
        let key = try await stack.client.createKey("for the audit")
        _ = try await stack.client.encrypt(key.keyID, [1], context: ["app": "cli"])
        let listed = try await Self.kms(["audit", "--key-arn", key.arn, "--operation", "Encrypt"], env: env)
        #expect(listed.status == 0, "\(listed.stderr)")
        let lines = listed.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let event = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(event["eventName"] as? String == "Encrypt")
        #expect((event["userIdentity"] as? [String: Any])?["arn"] as? String == "arn:aws:iam::111122223333:user/admin")
        #expect(
            ((event["requestParameters"] as? [String: Any])?["encryptionContext"] as? [String: String]) == [
                "app": "cli"
            ])
        let verified = try await Self.kms(["audit", "verify"], env: env)
        #expect(verified.status == 0 && verified.stdout.hasPrefix("intact"), "\(verified.stdout)\(verified.stderr)")
        await stack.stop()
    }

    /// Runs the openssl command line tool.
    static func openssl(_ arguments: [String]) async throws -> Result {
        let run = try await runChildProcess(URL(fileURLWithPath: "/usr/bin/env"), ["openssl"] + arguments)
        return Result(status: run.status, stdout: run.stdoutText, stderr: run.stderrText)
    }

    static func json(_ result: Result) throws -> [String: Any] {
        try #require(
            (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any],
            "\(result.stdout)\(result.stderr)")
    }

    /// A SIGN_VERIFY key of `spec` made with `kms create-key`, and a message file to sign.
    static func signingKeyAndMessage(_ stack: KMSStack, spec: String, message text: String) async throws -> (
        id: String, message: URL
    ) {
        let created = try await Self.kms(
            [
                "create-key", "--key-spec", spec, "--key-usage", "SIGN_VERIFY", "--query", "KeyMetadata.KeyId",
                "--output", "text",
            ],
            env: stack.environment
        )
        #expect(created.status == 0, "\(created.stderr)")
        let message = stack.worker.directory.appendingPathComponent("message.txt")
        try Data(text.utf8).write(to: message)
        return (created.stdout.trimmingCharacters(in: .whitespacesAndNewlines), message)
    }

    @Test func signVerifyAndCheckThePublicKeyWithOpenSSL() async throws {
        let stack = try await KMSStack.start()
        let env = stack.environment
        let (id, message) = try await Self.signingKeyAndMessage(
            stack, spec: "ECC_NIST_P256", message: "release 1.2.3\n")
        let directory = stack.worker.directory

        let signed = try await Self.kms(
            ["sign", "--key-id", id, "--message", "fileb://\(message.path)", "--signing-algorithm", "ECDSA_SHA_256"],
            env: env)
        #expect(signed.status == 0, "\(signed.stderr)")
        let signResponse = try Self.json(signed)
        #expect(signResponse["KeyId"] as? String == "arn:aws:kms:us-east-1:111122223333:key/\(id)")
        #expect(signResponse["SigningAlgorithm"] as? String == "ECDSA_SHA_256")
        let signature = try #require(Data(base64Encoded: signResponse["Signature"] as? String ?? ""))
        let signatureFile = directory.appendingPathComponent("signature.der")
        try signature.write(to: signatureFile)

        let verified = try await Self.kms(
            [
                "verify", "--key-id", id, "--message", "fileb://\(message.path)", "--signature",
                "fileb://\(signatureFile.path)",
                "--signing-algorithm", "ECDSA_SHA_256",
            ],
            env: env
        )
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(try Self.json(verified)["SignatureValid"] as? Bool == true)

        // AWS answers a signature that does not match with an error, not with SignatureValid false.
        let tampered = try await Self.kms(
            [
                "verify", "--key-id", id, "--message", "release 1.2.4\n", "--signature",
                "fileb://\(signatureFile.path)",
                "--signing-algorithm", "ECDSA_SHA_256",
            ],
            env: env
        )
        #expect(tampered.status == 254)
        #expect(
            tampered.stderr.contains("(KMSInvalidSignatureException) when calling the Verify operation"),
            "\(tampered.stderr)")

        // The public key checks the signature outside the service.
        let publicKey = try await Self.kms(["get-public-key", "--key-id", id], env: env)
        #expect(publicKey.status == 0, "\(publicKey.stderr)")
        let publicKeyResponse = try Self.json(publicKey)
        #expect(publicKeyResponse["KeySpec"] as? String == "ECC_NIST_P256")
        #expect(publicKeyResponse["KeyUsage"] as? String == "SIGN_VERIFY")
        #expect(publicKeyResponse["SigningAlgorithms"] as? [String] == ["ECDSA_SHA_256"])
        let der = try #require(Data(base64Encoded: publicKeyResponse["PublicKey"] as? String ?? ""))
        let derFile = directory.appendingPathComponent("public.der")
        let pemFile = directory.appendingPathComponent("public.pem")
        try der.write(to: derFile)
        let converted = try await Self.openssl([
            "pkey", "-pubin", "-inform", "DER", "-in", derFile.path, "-out", pemFile.path,
        ])
        #expect(converted.status == 0, "\(converted.stderr)")
        let checked = try await Self.openssl([
            "dgst", "-sha256", "-verify", pemFile.path, "-signature", signatureFile.path, message.path,
        ])
        #expect(checked.status == 0 && checked.stdout.contains("Verified OK"), "\(checked.stdout)\(checked.stderr)")
        await stack.stop()
    }

    @Test func generateAndVerifyAMac() async throws {
        let stack = try await KMSStack.start()
        let env = stack.environment
        let created = try await Self.kms(
            [
                "create-key", "--key-spec", "HMAC_256", "--key-usage", "GENERATE_VERIFY_MAC", "--query",
                "KeyMetadata.KeyId", "--output", "text",
            ],
            env: env
        )
        #expect(created.status == 0, "\(created.stderr)")
        let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let message = stack.worker.directory.appendingPathComponent("mac-message.txt")
        try Data("amount=100\n".utf8).write(to: message)

        let generated = try await Self.kms(
            [
                "generate-mac", "--key-id", id, "--message", "fileb://\(message.path)", "--mac-algorithm",
                "HMAC_SHA_256",
            ], env: env)
        #expect(generated.status == 0, "\(generated.stderr)")
        let response = try Self.json(generated)
        #expect(response["MacAlgorithm"] as? String == "HMAC_SHA_256")
        let mac = try #require(Data(base64Encoded: response["Mac"] as? String ?? ""))
        #expect(mac.count == 32)
        let macFile = stack.worker.directory.appendingPathComponent("mac.bin")
        try mac.write(to: macFile)

        let verified = try await Self.kms(
            [
                "verify-mac", "--key-id", id, "--message", "fileb://\(message.path)", "--mac-algorithm", "HMAC_SHA_256",
                "--mac", "fileb://\(macFile.path)",
            ],
            env: env
        )
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(try Self.json(verified)["MacValid"] as? Bool == true)

        let changed = try await Self.kms(
            [
                "verify-mac", "--key-id", id, "--message", "amount=900\n", "--mac-algorithm", "HMAC_SHA_256", "--mac",
                "fileb://\(macFile.path)",
            ],
            env: env
        )
        #expect(changed.status == 254)
        #expect(
            changed.stderr.contains("(KMSInvalidMacException) when calling the VerifyMac operation"),
            "\(changed.stderr)")
        #expect(changed.stdout.isEmpty)
        await stack.stop()
    }
}
