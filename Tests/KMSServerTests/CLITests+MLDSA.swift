import Foundation
import KMSTestSupport
import Testing

extension CLITests {
    /// ML_DSA_65 from the command line: create, sign, verify, and the public key checks the
    /// signature outside the service (Python's cryptography: Debian's openssl 3.0 has no ML-DSA).
    @Test func signAndVerifyWithAnMLDSAKey() async throws {
        let stack = try await KMSStack.start()
        let env = stack.environment
        let (id, message) = try await Self.signingKeyAndMessage(stack, spec: "ML_DSA_65", message: "release 2.0.0\n")
        let directory = stack.worker.directory

        let signed = try await Self.kms(
            [
                "sign", "--key-id", id, "--message", "fileb://\(message.path)", "--signing-algorithm",
                "ML_DSA_SHAKE_256",
            ],
            env: env)
        #expect(signed.status == 0, "\(signed.stderr)")
        let signature = try #require(Data(base64Encoded: try Self.json(signed)["Signature"] as? String ?? ""))
        #expect(signature.count == 3309)
        let signatureFile = directory.appendingPathComponent("signature.bin")
        try signature.write(to: signatureFile)

        let verified = try await Self.kms(
            [
                "verify", "--key-id", id, "--message", "fileb://\(message.path)", "--signature",
                "fileb://\(signatureFile.path)", "--signing-algorithm", "ML_DSA_SHAKE_256",
            ],
            env: env
        )
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(try Self.json(verified)["SignatureValid"] as? Bool == true)
        let tampered = try await Self.kms(
            [
                "verify", "--key-id", id, "--message", "release 2.0.1\n", "--signature",
                "fileb://\(signatureFile.path)", "--signing-algorithm", "ML_DSA_SHAKE_256",
            ],
            env: env
        )
        #expect(tampered.status == 254)
        #expect(tampered.stderr.contains("(KMSInvalidSignatureException)"), "\(tampered.stderr)")
        let mu = try await Self.kms(
            [
                "sign", "--key-id", id, "--message", String(repeating: "m", count: 64), "--message-type",
                "EXTERNAL_MU", "--signing-algorithm", "ML_DSA_SHAKE_256",
            ],
            env: env
        )
        #expect(mu.stderr.contains("(UnsupportedOperationException)"), "\(mu.stderr)")

        let publicKey = try await Self.kms(["get-public-key", "--key-id", id], env: env)
        #expect(publicKey.status == 0, "\(publicKey.stderr)")
        let response = try Self.json(publicKey)
        #expect(response["KeySpec"] as? String == "ML_DSA_65")
        #expect(response["SigningAlgorithms"] as? [String] == ["ML_DSA_SHAKE_256"])
        let der = try #require(Data(base64Encoded: response["PublicKey"] as? String ?? ""))
        let derFile = directory.appendingPathComponent("public.der")
        try der.write(to: derFile)
        let script = """
            import sys
            from cryptography.hazmat.primitives import serialization
            key = serialization.load_der_public_key(open(sys.argv[1], "rb").read())
            key.verify(open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read())
            print("Verified OK")
            """
        let checked = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", "-c", script, derFile.path, signatureFile.path, message.path], mergeStandardError: true)
        #expect(checked.status == 0 && checked.stdoutText.contains("Verified OK"), "\(checked.stdoutText)")
        await stack.stop()
    }
}
