import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import KMSXKS
import KMSXKSProxy
import Testing

/// The XKS client against kms-xks-proxy against a real kmsd, kms-cryptod and PostgreSQL.
@Suite struct XKSProxyEndToEndTests {
    static let proxyARN = "arn:aws:iam::111122223333:user/xks-proxy"

    /// The proxy principal is denied by this key's policy, though its identity policy allows it.
    static let denyingPolicy =
        #"{"Version":"2012-10-17","Statement":["#
        + #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},"#
        + #"{"Effect":"Deny","Principal":{"AWS":"\#(proxyARN)"},"Action":"kms:*","Resource":"*"}]}"#

    static func name(_ error: any Error) -> XKSErrorName? { (error as? XKSClientError)?.errorName }

    /// Runs `body`, then stops `fixture` whether or not it threw: a `defer` that starts a Task may
    /// not run before the test binary exits, and the child processes left would hold swift
    /// test's output open (it then never ends).
    static func stopping(_ fixture: XKSProxyFixture, _ body: () async throws -> Void) async throws {
        do { try await body() } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }

    @Test func keysThroughTheProxy() async throws {
        let fixture = try await XKSProxyFixture.start { stack in
            var denied = KMSCreateKeyRequest()
            denied.policy = Self.denyingPolicy
            var signing = KMSCreateKeyRequest()
            signing.keySpec = .eccNistP256
            signing.keyUsage = .signVerify
            let disabled = try await stack.client.call(KMSMethod.createKey, KMSCreateKeyRequest()).keyMetadata.keyID
            var disable = KMSDisableKeyRequest()
            disable.keyID = disabled
            _ = try await stack.client.call(KMSMethod.disableKey, disable)
            return [
                "denied": try await stack.client.call(KMSMethod.createKey, denied).keyMetadata.keyID,
                "signing": try await stack.client.call(KMSMethod.createKey, signing).keyMetadata.keyID,
                "disabled": disabled,
                // An AWS managed key is no external key, and naming it must not create it.
                "managed": "alias/aws/s3",
            ]
        }
        try await Self.stopping(fixture) {
            let client = try fixture.client()
            defer { Task { await client.shutdown() } }

            let health = try await client.getHealthStatus(
                requestMetadata: XKSRequestMetadata(kmsOperation: "KmsHealthCheck", kmsRequestId: "h1"))
            #expect(health.xksProxyFleetSize == 1)
            #expect(health.ekmFleetDetails.map(\.healthStatus) == ["ACTIVE"])

            let metadata = try await client.getKeyMetadata(
                keyID: "orders", requestMetadata: XKSProxyFixture.metadata("CreateKey", keyARN: nil))
            #expect(metadata == XKSGetKeyMetadataResponse(keyStatus: "ENABLED"))

            // Encrypt with AAD and a CDIV, then Decrypt; a different or missing AAD does not decrypt.
            let aad = Data("project=nile,department=marketing".utf8)
            let encryptMetadata = XKSProxyFixture.metadata("Encrypt")
            let sealed = try await client.encrypt(
                keyID: "orders",
                XKSEncryptRequest(
                    requestMetadata: encryptMetadata, plaintext: Data("Hello World!".utf8),
                    additionalAuthenticatedData: aad, ciphertextDataIntegrityValueAlgorithm: "SHA_256"))
            #expect(sealed.ciphertext.count == 12)
            #expect(sealed.initializationVector.count == 12)
            #expect((sealed.ciphertextMetadata?.count ?? 0) <= 20)
            #expect(sealed.ciphertextDataIntegrityValue != nil)
            let opened = try await client.decrypt(
                keyID: "orders",
                XKSDecryptRequest(
                    requestMetadata: XKSProxyFixture.metadata("Decrypt"), encrypted: sealed,
                    additionalAuthenticatedData: aad))
            #expect(opened.plaintext == Data("Hello World!".utf8))
            for wrong in [Data("project=blue".utf8), nil] {
                await #expect {
                    _ = try await client.decrypt(
                        keyID: "orders",
                        XKSDecryptRequest(
                            requestMetadata: XKSProxyFixture.metadata("Decrypt"), encrypted: sealed,
                            additionalAuthenticatedData: wrong))
                } throws: { Self.name($0) == .invalidCiphertext }
            }
            var tampered = sealed
            tampered.ciphertextMetadata?[1] ^= 1
            await #expect {
                _ = try await client.decrypt(
                    keyID: "orders",
                    XKSDecryptRequest(
                        requestMetadata: XKSProxyFixture.metadata("Decrypt"), encrypted: tampered,
                        additionalAuthenticatedData: aad))
            } throws: { Self.name($0) == .invalidCiphertext }

            // Keys that cannot be used, each with its XKS error.
            let plain = XKSEncryptRequest(
                requestMetadata: XKSProxyFixture.metadata("Encrypt"), plaintext: Data([1, 2, 3]))
            for (key, expected) in [
                ("nope", XKSErrorName.keyNotFound), ("disabled", .invalidState), ("denied", .accessDenied),
                ("signing", .invalidKeyUsage), ("managed", .keyNotFound),
            ] {
                await #expect(Comment(rawValue: key)) { _ = try await client.encrypt(keyID: key, plain) } throws: {
                    Self.name($0) == expected
                }
            }
            let aliases = try await fixture.stack.client.call(KMSMethod.listAliases, KMSListAliasesRequest()).aliases
            #expect(!aliases.contains { $0.aliasName == "alias/aws/s3" && $0.hasTargetKeyID })
            let disabledMetadata = try await client.getKeyMetadata(
                keyID: "disabled", requestMetadata: XKSProxyFixture.metadata("DescribeKey", keyARN: nil))
            #expect(disabledMetadata.keyStatus == "DISABLED")

            // Credentials the proxy does not accept.
            for bad in [
                try fixture.client(secret: XKSProxyFixture.secret + "x"),
                try fixture.client(accessKeyID: "XKSUNKNOWNACCESSKEY234567"),
            ] {
                await #expect { _ = try await bad.encrypt(keyID: "orders", plain) } throws: {
                    Self.name($0) == .authenticationFailed
                }
                await bad.shutdown()
            }

            // A rotated key: new ciphertexts name the new material; the old ones still decrypt.
            var rotate = KMSRotateKeyOnDemandRequest()
            rotate.keyID = fixture.keyID
            _ = try await fixture.stack.client.call(KMSMethod.rotateKeyOnDemand, rotate)
            let after = try await client.encrypt(
                keyID: "orders",
                XKSEncryptRequest(
                    requestMetadata: XKSProxyFixture.metadata("Encrypt"), plaintext: Data("again".utf8),
                    additionalAuthenticatedData: aad))
            #expect(after.ciphertextMetadata != sealed.ciphertextMetadata)
            for (ciphertext, plaintext) in [(sealed, "Hello World!"), (after, "again")] {
                let answer = try await client.decrypt(
                    keyID: "orders",
                    XKSDecryptRequest(
                        requestMetadata: XKSProxyFixture.metadata("Decrypt"), encrypted: ciphertext,
                        additionalAuthenticatedData: aad))
                #expect(answer.plaintext == Data(plaintext.utf8))
            }

            // kmsd audited the calls as the proxy's principal, with the XKS caller's request metadata.
            var list = AdminListAuditRecordsRequest()
            list.principalArn = fixture.proxyPrincipal
            list.operation = "XksEncrypt"
            let records = try await fixture.stack.client.call(AdminMethod.listAuditRecords, list).records
            let first = records.first { $0.encryptionContext["xks:kmsRequestId"] == encryptMetadata.kmsRequestId }
            #expect(first?.errorCode == "")
            #expect(first?.encryptionContext["xks:awsPrincipalArn"] == "arn:aws:iam::123456789012:user/Alice")
            #expect(first?.encryptionContext["xks:accessKeyId"] == XKSProxyFixture.accessKeyID)
            #expect(first?.keyArns.first?.hasSuffix(fixture.keyID) == true)
            #expect(records.contains { $0.errorCode == "AccessDeniedException" })
            list.operation = "XksDecrypt"
            list.errorCode = "InvalidCiphertextException"
            #expect(try await fixture.stack.client.call(AdminMethod.listAuditRecords, list).records.count >= 3)

            try await Self.rawRequests(fixture.service)
        }
    }

    /// Requests no honest client sends, straight to the service (the HTTP layer only frames them).
    static func rawRequests(_ service: XKSProxyService) async throws {
        let signer = XKSSigner(
            credentials: XKSCredentials(
                accessKeyID: XKSProxyFixture.accessKeyID, secretAccessKey: Array(XKSProxyFixture.secret.utf8)),
            region: "us-east-1")
        let encryptPath = "\(XKSProxyFixture.uriPath)/keys/orders/encrypt"
        func request(_ path: String = encryptPath, method: String = "POST", body: String) -> XKSProxyRequest {
            let bytes = Array(body.utf8)
            let headers =
                [("Host", "xks.example"), ("Content-Type", "application/json")]
                + signer.headers(host: "xks.example", path: path, body: bytes)
            return XKSProxyRequest(method: method, uri: path, headers: headers, body: bytes)
        }
        func expect(
            _ request: XKSProxyRequest, _ status: Int, _ name: String, sourceLocation: SourceLocation = #_sourceLocation
        ) async {
            let answer = await service.handle(request)
            #expect(answer.status == status, sourceLocation: sourceLocation)
            let body = try? JSONDecoder().decode(XKSErrorBody.self, from: Data(answer.body))
            #expect(body?.errorName == name, sourceLocation: sourceLocation)
        }
        let metadata =
            #""requestMetadata":{"awsPrincipalArn":"arn:aws:iam::1:user/A","kmsKeyArn":"k","#
            + #""kmsOperation":"Encrypt","kmsRequestId":"r"}"#
        let good = #"{\#(metadata),"plaintext":"SGVsbG8=","encryptionAlgorithm":"AES_GCM"}"#
        #expect(await service.handle(request(body: good)).status == 200)

        var wrongService = request(body: good)
        wrongService.headers = wrongService.headers.map {
            ($0.name, $0.value.replacingOccurrences(of: "/kms-xks-proxy/", with: "/kms/"))
        }
        await expect(wrongService, 401, "AuthenticationFailedException")
        var unsigned = request(body: good)
        unsigned.headers.removeAll { $0.name == "Authorization" }
        await expect(unsigned, 401, "AuthenticationFailedException")
        var changed = request(body: good)
        changed.body = Array(#"{\#(metadata),"plaintext":"SGVsbG9v","encryptionAlgorithm":"AES_GCM"}"#.utf8)
        await expect(changed, 401, "AuthenticationFailedException")

        await expect(request(body: ""), 400, "ValidationException")
        await expect(request(body: #"{\#(metadata),"encryptionAlgorithm":"AES_GCM"}"#), 400, "ValidationException")
        await expect(
            request(body: #"{\#(metadata),"plaintext":"not base64!","encryptionAlgorithm":"AES_GCM"}"#), 400,
            "ValidationException")
        await expect(
            request(body: #"{\#(metadata),"plaintext":"\#(String(repeating: "A", count: 70_000))"}"#), 400,
            "ValidationException")
        await expect(request(method: "GET", body: good), 405, "MethodNotAllowed")
        await expect(request("/other/kms/xks/v1/keys/orders/encrypt", body: good), 404, "InvalidUriPathException")
        await expect(request("\(XKSProxyFixture.uriPath)/keys/orders/sign", body: good), 404, "InvalidUriPathException")
        await expect(request("\(XKSProxyFixture.uriPath)/keys/no%2Fpe/encrypt", body: good), 400, "ValidationException")
    }

    @Test func mutualTLSRequiresAClientCertificate() async throws {
        let fixture = try await XKSProxyFixture.start(mutualTLS: true)
        try await Self.stopping(fixture) {
            let metadata = XKSRequestMetadata(kmsOperation: "KmsHealthCheck", kmsRequestId: "h")
            let withCertificate = try fixture.client(clientCertificate: true)
            #expect(try await withCertificate.getHealthStatus(requestMetadata: metadata).xksProxyFleetSize == 1)
            await withCertificate.shutdown()
            let without = try fixture.client()
            await #expect {
                _ = try await without.getHealthStatus(requestMetadata: metadata)
            } throws: { error in
                switch error as? XKSClientError {
                case .tlsFailure, .unreachable: return true
                default: return false
                }
            }
            await without.shutdown()
        }
    }
}
