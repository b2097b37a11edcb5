import Crypto
import Foundation
import KMSProto
import KMSTestSupport
import KMSXKSProxy
import Testing

/// The cases of AWS's XKS proxy conformance client (aws-kms-xksproxy-test-client: each a
/// signed curl request with an expected errorName or answer field), and the spec's other
/// negative cases, against the kms-xks-proxy binary over HTTPS in front of a real kmsd.
@Suite struct XKSConformanceTests {
    static let aad = Data("project=nile,department=marketing".utf8).base64EncodedString()
    static let otherAAD = Data("project=blue,department=finance".utf8).base64EncodedString()

    /// Our keys' usage is ENCRYPT_DECRYPT, whatever the key: an encrypt-only key is one whose
    /// policy lets the proxy encrypt but not decrypt (the client expects InvalidKeyUsageException
    /// of its HSM keys; ours is a policy's refusal, AccessDeniedException).
    static let encryptOnlyPolicy =
        #"{"Version":"2012-10-17","Statement":["#
        + #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},"#
        + #"{"Effect":"Deny","Principal":{"AWS":"\#(XKSProxyEndToEndTests.proxyARN)"},"Action":"kms:Decrypt","#
        + #""Resource":"*"}]}"#

    static func metadata(_ operation: String) -> String {
        #""requestMetadata":{"awsPrincipalArn":"arn:aws:iam::123456789012:user/Alice","#
            + #""kmsKeyArn":"arn:aws:kms:us-east-2:123456789012:/key/1234abcd-12ab-34cd-56ef-1234567890ab","#
            + #""kmsOperation":"\#(operation)","kmsRequestId":"\#(UUID().uuidString.lowercased())","#
            + #""kmsViaService":"ebs"}"#
    }

    static func health(_ operation: String = "KmsHealthCheck") -> String {
        #"{"requestMetadata":{"kmsOperation":"\#(operation)","kmsRequestId":"\#(UUID().uuidString)"}}"#
    }

    /// An Encrypt body; nil leaves a field out.
    static func encrypt(
        plaintext: String? = "cGxhaW50ZXh0Cg==", aad: String? = nil, cdiv: String? = nil,
        algorithm: String? = "AES_GCM", operation: String = "Encrypt"
    ) -> String {
        var fields = [Self.metadata(operation)]
        if let aad { fields.append(#""additionalAuthenticatedData":"\#(aad)""#) }
        if let plaintext { fields.append(#""plaintext":"\#(plaintext)""#) }
        if let cdiv { fields.append(#""ciphertextDataIntegrityValueAlgorithm":"\#(cdiv)""#) }
        if let algorithm { fields.append(#""encryptionAlgorithm":"\#(algorithm)""#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// A Decrypt body of an Encrypt answer's fields, with `aad` and any field replaced by `override`.
    static func decrypt(_ sealed: [String: Any], aad: String? = nil, override: [String: String] = [:]) -> String {
        var fields = [Self.metadata("Decrypt"), #""encryptionAlgorithm":"AES_GCM""#]
        if let aad { fields.append(#""additionalAuthenticatedData":"\#(aad)""#) }
        for name in ["ciphertext", "initializationVector", "authenticationTag", "ciphertextMetadata"] {
            if let value = override[name] ?? sealed[name] as? String { fields.append(#""\#(name)":"\#(value)""#) }
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func expect(
        _ answer: XKSRawHTTPS.Answer, _ status: Int, _ errorName: String? = nil, has field: String? = nil,
        _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(answer.status == status, comment, sourceLocation: sourceLocation)
        if let errorName { #expect(answer.errorName == errorName, comment, sourceLocation: sourceLocation) }
        if let field { #expect(answer.json?[field] != nil, comment, sourceLocation: sourceLocation) }
    }

    /// SHA-256 over AAD, metadata, IV, ciphertext and tag: the CDIV as the client's verify_cdiv computes it.
    static func cdiv(_ sealed: [String: Any], aad: String?) -> String {
        var bytes = Data(base64Encoded: aad ?? "") ?? Data()
        for name in ["ciphertextMetadata", "initializationVector", "ciphertext", "authenticationTag"] {
            bytes += (sealed[name] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
        }
        return Data(SHA256.hash(data: bytes)).base64EncodedString()
    }

    @Test func theConformanceClientsCasesAndTheSpecsNegativeOnes() async throws {
        let fixture = try await XKSProxyFixture.start { stack in
            var signing = KMSCreateKeyRequest()
            signing.keySpec = .eccNistP256
            signing.keyUsage = .signVerify
            let disabled = try await stack.client.call(KMSMethod.createKey, KMSCreateKeyRequest()).keyMetadata.keyID
            var disable = KMSDisableKeyRequest()
            disable.keyID = disabled
            _ = try await stack.client.call(KMSMethod.disableKey, disable)
            var encryptOnly = KMSCreateKeyRequest()
            encryptOnly.policy = Self.encryptOnlyPolicy
            return [
                "impotent_key": try await stack.client.call(KMSMethod.createKey, signing).keyMetadata.keyID,
                "encrypt_only_key": try await stack.client.call(KMSMethod.createKey, encryptOnly).keyMetadata.keyID,
                "disabled": disabled,
            ]
        }
        try await XKSProxyEndToEndTests.stopping(fixture) {
            let proxy = try await XKSProxyProcess.start(fixture.configuration, fixture: fixture)
            do {
                let raw = XKSRawHTTPS(port: proxy.port, caPath: fixture.path("ca.pem"))
                try await Self.healthAndMetadata(raw)
                try await Self.encryptAndDecrypt(raw)
                try await Self.specNegatives(raw)
                try await Self.curl(port: proxy.port, caPath: fixture.path("ca.pem"))
                try await XKSProxyReloadTests.rotate(proxy, raw: raw, fixture: fixture)
            } catch {
                await proxy.stop()
                throw error
            }
            await proxy.stop()
        }
    }

    /// test_get_health_status and test_get_key_metadata.
    static func healthAndMetadata(_ raw: XKSRawHTTPS) async throws {
        let bogusID = "Invalid" + XKSProxyFixture.accessKeyID
        let bogusSecret = "Invalid" + XKSProxyFixture.secret
        let prefix = XKSProxyFixture.uriPath.replacingOccurrences(of: "/kms/xks/v1", with: "/invalid/kms/xks/v1")
        expect(try await raw.post("health", Self.health()), 200, has: "ekmFleetDetails", "GetHealthStatus")
        expect(try await raw.post("health", "{}"), 400, "ValidationException", "health without requestMetadata")
        expect(
            try await raw.post("health", #"{"requestMetadata":{}}"#), 400, "ValidationException",
            "health with empty requestMetadata")
        expect(
            try await raw.post("health", Self.health(), accessKeyID: bogusID), 401, "AuthenticationFailedException",
            "health, unknown access key id")
        expect(
            try await raw.post("health", Self.health(), secret: bogusSecret), 401, "AuthenticationFailedException",
            "health, wrong secret")
        expect(
            try await raw.post("health", Self.health(), uriPath: prefix), 404, "InvalidUriPathException",
            "health, invalid URI prefix")
        expect(
            try await raw.post("health", Self.health("CreateCustomKeyStore")), 200, has: "xksProxyFleetSize",
            "health as part of CreateCustomKeyStore")

        let describe = "{\(Self.metadata("DescribeKey"))}"
        expect(try await raw.post("keys/orders/metadata", describe), 200, has: "keyStatus", "metadata, DescribeKey")
        expect(
            try await raw.post("keys/orders/metadata", "{\(Self.metadata("CreateKey"))}"), 200, has: "keyStatus",
            "metadata, CreateKey")
        expect(try await raw.post("keys/orders/metadata", "{}"), 400, "ValidationException", "metadata, no metadata")
        expect(
            try await raw.post("keys/orders/metadata", #"{"requestMetadata":{}}"#), 400, "ValidationException",
            "metadata, empty metadata")
        expect(
            try await raw.post("keys/non_existing_key/metadata", describe), 404, "KeyNotFoundException",
            "metadata, unknown key")
        expect(
            try await raw.post("keys/orders/metadata", describe, accessKeyID: bogusID), 401,
            "AuthenticationFailedException", "metadata, unknown access key id")
        expect(
            try await raw.post("keys/orders/metadata", describe, secret: bogusSecret), 401,
            "AuthenticationFailedException", "metadata, wrong secret")
        expect(
            try await raw.post("keys/orders/metadata", describe, uriPath: prefix), 404, "InvalidUriPathException",
            "metadata, invalid URI prefix")
    }

    /// test_encrypt_decrypt and test_impotent_key (the key cannot encrypt: a signing key).
    static func encryptAndDecrypt(_ raw: XKSRawHTTPS) async throws {
        let prefix = XKSProxyFixture.uriPath.replacingOccurrences(of: "/kms/xks/v1", with: "/invalid/kms/xks/v1")
        expect(
            try await raw.post("keys/non_existing_key/encrypt", Self.encrypt()), 404, "KeyNotFoundException",
            "encrypt, unknown key")
        expect(
            try await raw.post("keys/orders/encrypt", Self.encrypt(plaintext: nil)), 400, "ValidationException",
            "encrypt without plaintext")
        expect(
            try await raw.post(
                "keys/orders/encrypt", Self.encrypt(), accessKeyID: "Invalid" + XKSProxyFixture.accessKeyID),
            401, "AuthenticationFailedException", "encrypt, unknown access key id")
        expect(
            try await raw.post("keys/orders/encrypt", Self.encrypt(), secret: "Invalid" + XKSProxyFixture.secret), 401,
            "AuthenticationFailedException", "encrypt, wrong secret")
        expect(
            try await raw.post("keys/orders/encrypt", Self.encrypt(), uriPath: prefix), 404, "InvalidUriPathException",
            "encrypt, invalid URI prefix")

        func sealed(_ body: String, _ comment: Comment) async throws -> [String: Any] {
            let answer = try await raw.post("keys/orders/encrypt", body)
            expect(answer, 200, has: "ciphertext", comment)
            return answer.json ?? [:]
        }
        let withAAD = try await sealed(Self.encrypt(aad: Self.aad), "encrypt with AAD")
        expect(
            try await raw.post("keys/orders/decrypt", Self.decrypt(withAAD)), 400, "InvalidCiphertextException",
            "decrypt without the AAD")
        expect(
            try await raw.post("keys/orders/decrypt", Self.decrypt(withAAD, aad: Self.otherAAD)), 400,
            "InvalidCiphertextException", "decrypt with another AAD")
        let answer = try await raw.post("keys/orders/decrypt", Self.decrypt(withAAD, aad: Self.aad))
        expect(answer, 200, has: "plaintext", "decrypt with the same AAD")
        #expect(answer.json?["plaintext"] as? String == "cGxhaW50ZXh0Cg==")
        let withoutAAD = try await sealed(Self.encrypt(plaintext: "SGVsbG8gV29ybGQh"), "encrypt without AAD")
        expect(
            try await raw.post("keys/orders/decrypt", Self.decrypt(withoutAAD)), 200, has: "plaintext",
            "decrypt without AAD")
        for aad in [Self.aad, nil] {
            let checked = try await sealed(Self.encrypt(aad: aad, cdiv: "SHA_256"), "encrypt with a CDIV")
            #expect(checked["ciphertextDataIntegrityValue"] as? String == Self.cdiv(checked, aad: aad))
            expect(
                try await raw.post("keys/orders/decrypt", Self.decrypt(checked, aad: aad)), 200, has: "plaintext",
                "decrypt after a CDIV")
        }
        let largeAAD = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0) }).base64EncodedString()
        let largePlaintext = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) }).base64EncodedString()
        let large = try await sealed(Self.encrypt(plaintext: largePlaintext, aad: largeAAD), "encrypt, large")
        let opened = try await raw.post("keys/orders/decrypt", Self.decrypt(large, aad: largeAAD))
        expect(opened, 200, has: "plaintext", "decrypt, large")
        #expect(opened.json?["plaintext"] as? String == largePlaintext)

        // test_encrypt_only_key: it encrypts, but neither decrypts nor gives a CDIV, which the
        // proxy checks by decrypting (the spec's appendix C).
        for aad in [Self.aad, nil] {
            let answer = try await raw.post("keys/encrypt_only_key/encrypt", Self.encrypt(aad: aad))
            expect(answer, 200, has: "ciphertext", "encrypt with an encrypt-only key")
            expect(
                try await raw.post("keys/encrypt_only_key/decrypt", Self.decrypt(answer.json ?? [:], aad: aad)), 403,
                "AccessDeniedException", "decrypt with an encrypt-only key")
            expect(
                try await raw.post("keys/encrypt_only_key/encrypt", Self.encrypt(aad: aad, cdiv: "SHA_256")), 403,
                "AccessDeniedException", "a CDIV with an encrypt-only key")
        }
        for (aad, cdiv) in [(Self.aad, nil), (nil, nil), (Self.aad, "SHA_256"), (nil, "SHA_256")] {
            expect(
                try await raw.post("keys/impotent_key/encrypt", Self.encrypt(aad: aad, cdiv: cdiv)), 400,
                "InvalidKeyUsageException", "encrypt with a key that cannot encrypt")
        }
    }

    /// What the spec says of requests the client does not send: scope, sizes, JSON, algorithms, methods.
    static func specNegatives(_ raw: XKSRawHTTPS) async throws {
        let body = Self.encrypt()
        expect(
            try await raw.post("keys/orders/encrypt", body, service: "kms"), 401, "AuthenticationFailedException",
            "signed for another service")
        expect(
            try await raw.post("keys/orders/encrypt", body, region: "eu-west-1"), 401, "AuthenticationFailedException",
            "signed for a region the proxy does not accept")
        let path = "\(XKSProxyFixture.uriPath)/keys/orders/encrypt"
        let stale = raw.signed(
            path: path, body: Array(body.utf8), accessKeyID: XKSProxyFixture.accessKeyID,
            secret: XKSProxyFixture.secret, date: Date().addingTimeInterval(-600))
        expect(
            try await raw.send(path: path, headers: stale, body: Array(body.utf8)), 401,
            "AuthenticationFailedException", "signed ten minutes ago")
        var unsigned = raw.signed(
            path: path, body: Array(body.utf8), accessKeyID: XKSProxyFixture.accessKeyID,
            secret: XKSProxyFixture.secret)
        unsigned.removeAll { $0.0 == "Authorization" }
        expect(
            try await raw.send(path: path, headers: unsigned, body: Array(body.utf8)), 401,
            "AuthenticationFailedException", "unsigned")
        expect(
            try await raw.send(method: .GET, path: path, headers: [("Host", raw.host)], body: []), 405, nil,
            "GET")
        expect(try await raw.post("keys/orders/encrypt", "{not json"), 400, "ValidationException", "malformed JSON")
        expect(
            try await raw.post("keys/orders/encrypt", Self.encrypt(algorithm: nil)), 400, "ValidationException",
            "no encryptionAlgorithm")
        expect(
            try await raw.post("keys/orders/encrypt", Self.encrypt(algorithm: "AES_CBC")), 400, "ValidationException",
            "an algorithm other than AES_GCM")
        expect(
            try await raw.post("keys/orders/encrypt", Self.encrypt(cdiv: "MD5")), 400, "ValidationException",
            "a CDIV algorithm other than SHA_256")
        expect(
            try await raw.post("keys/orders/encrypt", Self.encrypt(plaintext: "not base64!")), 400,
            "ValidationException", "plaintext not base64")
        expect(
            try await raw.post("keys/orders/encrypt", Self.encrypt(operation: "BulkEncrypt")), 200, has: "ciphertext",
            "a kmsOperation the proxy does not know (it must not refuse it)")
        let extra = Self.encrypt().replacingOccurrences(of: #""kmsViaService":"ebs""#, with: #""kmsFuture":"x""#)
        expect(try await raw.post("keys/orders/encrypt", extra), 200, has: "ciphertext", "unknown metadata fields")
        expect(
            try await raw.post("keys/orders/encrypt", Self.encrypt(plaintext: Data(count: 4301).base64EncodedString())),
            501, "UnsupportedOperationException", "plaintext beyond the 4300 bytes the spec requires")
        expect(
            try await raw.post(
                "keys/orders/encrypt", Self.encrypt(aad: Data(count: 8193).base64EncodedString())), 501,
            "UnsupportedOperationException", "AAD beyond the 8192 bytes the spec requires")
        let huge = Self.encrypt(plaintext: String(repeating: "A", count: 70_000))
        expect(try await raw.post("keys/orders/encrypt", huge), 400, "ValidationException", "a 70 kB body")
        expect(
            try await raw.post("keys/disabled/encrypt", Self.encrypt()), 400, "InvalidStateException",
            "a disabled key")
        expect(try await raw.post("keys/no%2Fpe/encrypt", body), 400, "ValidationException", "a key id with a '/'")

        // Decrypt's sizes: a 12- or 16-byte IV is valid input, a 16-byte one this proxy never
        // made does not authenticate (InvalidCiphertextException); other sizes are invalid.
        let sealed = try await raw.post("keys/orders/encrypt", Self.encrypt()).json ?? [:]
        for (field, bytes, status, name) in [
            ("initializationVector", 16, 400, "InvalidCiphertextException"),
            ("initializationVector", 8, 400, "ValidationException"),
            ("initializationVector", 13, 400, "ValidationException"),
            ("authenticationTag", 15, 400, "ValidationException"),
            ("ciphertextMetadata", 21, 400, "ValidationException"),
            ("ciphertext", 4301, 501, "UnsupportedOperationException"),
        ] {
            let value = Data(repeating: 7, count: bytes).base64EncodedString()
            expect(
                try await raw.post("keys/orders/decrypt", Self.decrypt(sealed, override: [field: value])), status,
                name, "decrypt with a \(bytes)-byte \(field)")
        }
        let missing = Self.decrypt(sealed).replacingOccurrences(of: #""encryptionAlgorithm":"AES_GCM","#, with: "")
        expect(try await raw.post("keys/orders/decrypt", missing), 400, "ValidationException", "decrypt, no algorithm")
    }

    /// The client's own transport: curl's SigV4 (it signs Content-Type too), when this curl has it.
    static func curl(port: Int, caPath: String) async throws {
        let version = try await runChildProcess(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "--version"])
        guard version.status == 0, version.stdoutText.contains("curl 7.") || version.stdoutText.contains("curl 8.")
        else { return }
        let result = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "curl", "--silent", "--cacert", caPath, "-H", "Content-Type:application/json",
                "--aws-sigv4", "aws:amz:us-east-1:kms-xks-proxy",
                "--user", "\(XKSProxyFixture.accessKeyID):\(XKSProxyFixture.secret)",
                "--data-binary", Self.health(), "https://127.0.0.1:\(port)\(XKSProxyFixture.uriPath)/health",
            ])
        // curl before 7.75 has no --aws-sigv4 (exit 2); any other outcome is the proxy's.
        guard result.status != 2 else { return }
        #expect(result.stdoutText.contains(#""healthStatus":"ACTIVE""#), "curl: \(result.stdoutText.prefix(300))")
    }
}
