import Foundation
import KMSClient
import KMSCrypto
import KMSDomain
import KMSProto
import KMSTestSupport
import Testing

/// Asymmetric, HMAC and imported keys over the binary protocol: the condition keys of their
/// operations in key policies, identity policies and grants, and imported material that
/// expires. (Every spec and algorithm is cross-checked with Python's cryptography package in
/// AWSClientTests; signatures with the openssl tool in CLITests.)
@Suite struct AsymmetricKeyTests {
    static func policy(_ statements: String) -> String {
        #"{"Version": "2012-10-17", "Statement": [\#(statements)]}"#
    }

    static let root =
        #"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "#
        + #""Resource": "*"}"#

    static func createKey(
        _ kms: KMSClient, spec: KMSKeySpec, usage: KMSKeyUsage, policy: String? = nil, origin: KMSOrigin? = nil
    ) async throws -> KMSKeyMetadata {
        var create = KMSCreateKeyRequest()
        create.keySpec = spec
        create.keyUsage = usage
        if let policy { create.policy = policy }
        if let origin { create.origin = origin }
        return try await kms.call(KMSMethod.createKey, create).keyMetadata
    }

    static func sign(
        _ kms: KMSClient, _ keyID: String, _ message: [UInt8], _ type: KMSMessageType, grantTokens: [String] = []
    ) async throws -> Data {
        var sign = KMSSignRequest()
        sign.keyID = keyID
        sign.message = Data(message)
        sign.messageType = type
        sign.signingAlgorithm = .ecdsaSha256
        sign.grantTokens = grantTokens
        return try await kms.call(KMSMethod.sign, sign).signature
    }

    static func verify(
        _ kms: KMSClient, _ keyID: String, _ message: [UInt8], _ signature: Data, grantTokens: [String] = []
    ) async throws -> Bool {
        var verify = KMSVerifyRequest()
        verify.keyID = keyID
        verify.message = Data(message)
        verify.messageType = .digest
        verify.signature = signature
        verify.signingAlgorithm = .ecdsaSha256
        verify.grantTokens = grantTokens
        return try await kms.call(KMSMethod.verify, verify).signatureValid
    }

    @Test func conditionKeysAndGrantsForSigningMacsAndKeyPairs() async throws {
        let stack = try await KMSStack.start()
        let (signerARN, signer) = try await stack.principal(
            "signer",
            policies: [
                "pairs": Self.policy(
                    #"""
                    {"Effect": "Allow", "Action": "kms:GenerateDataKeyPair", "Resource": "*",
                     "Condition": {"StringEquals": {"kms:DataKeyPairSpec": "ECC_NIST_P256"}}}
                    """#)
            ])
        // The key policy lets the signer sign digests only.
        let key = try await Self.createKey(
            stack.client, spec: .eccNistP256, usage: .signVerify,
            policy: Self.policy(
                """
                \(Self.root),
                {"Effect": "Allow", "Principal": {"AWS": "\(signerARN)"}, "Action": "kms:Sign", "Resource": "*",
                 "Condition": {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256", "kms:MessageType": "DIGEST"}}}
                """))
        #expect(key.signingAlgorithms == [.ecdsaSha256])
        #expect(key.encryptionAlgorithms.isEmpty)
        let digest = Array(repeating: UInt8(7), count: 32)
        let signature = try await Self.sign(signer, key.keyID, digest, .digest)
        #expect(await code { _ = try await Self.sign(signer, key.keyID, digest, .raw) } == "AccessDeniedException")
        #expect(
            await code { _ = try await Self.verify(signer, key.keyID, digest, signature) } == "AccessDeniedException")

        // A grant for Verify alone, used at once through its token.
        var grant = KMSCreateGrantRequest()
        grant.keyID = key.keyID
        grant.granteePrincipal = signerARN
        grant.operations = [.verify]
        let token = try await stack.client.call(KMSMethod.createGrant, grant).grantToken
        #expect(try await Self.verify(signer, key.keyID, digest, signature, grantTokens: [token]))
        var tampered = signature
        tampered[tampered.count - 1] ^= 1
        #expect(
            await code { _ = try await Self.verify(signer, key.keyID, digest, tampered, grantTokens: [token]) }
                == "KMSInvalidSignatureException")

        // HMAC: a grant for GenerateMac does not give VerifyMac.
        let hmac = try await Self.createKey(stack.client, spec: .hmac384, usage: .generateVerifyMac)
        #expect(hmac.macAlgorithms == [.hmacSha384])
        grant.keyID = hmac.keyID
        // Operations that do not fit the key are refused, as AWS refuses them.
        grant.operations = [.sign]
        #expect(await code { _ = try await stack.client.call(KMSMethod.createGrant, grant) } == "ValidationException")
        grant.operations = [.generateMac, .decrypt]
        #expect(await code { _ = try await stack.client.call(KMSMethod.createGrant, grant) } == "ValidationException")
        grant.operations = [.generateMac]
        let macToken = try await stack.client.call(KMSMethod.createGrant, grant).grantToken
        var generate = KMSGenerateMacRequest()
        generate.keyID = hmac.keyID
        generate.message = Data("message".utf8)
        generate.macAlgorithm = .hmacSha384
        generate.grantTokens = [macToken]
        let mac = try await signer.call(KMSMethod.generateMac, generate).mac
        #expect(mac.count == 48)
        var verifyMac = KMSVerifyMacRequest()
        verifyMac.keyID = hmac.keyID
        verifyMac.message = Data("message".utf8)
        verifyMac.macAlgorithm = .hmacSha384
        verifyMac.mac = mac
        #expect(await code { _ = try await signer.call(KMSMethod.verifyMac, verifyMac) } == "AccessDeniedException")
        #expect(try await stack.client.call(KMSMethod.verifyMac, verifyMac).macValid)
        verifyMac.macAlgorithm = .hmacSha256
        #expect(
            await code { _ = try await stack.client.call(KMSMethod.verifyMac, verifyMac) } == "InvalidKeyUsageException"
        )

        // kms:DataKeyPairSpec in an identity policy, under the default key policy.
        let wrapping = try await stack.client.createKey()
        var pair = KMSGenerateDataKeyPairRequest()
        pair.keyID = wrapping.keyID
        pair.keyPairSpec = .eccNistP256
        let p256 = try await signer.call(KMSMethod.generateDataKeyPair, pair)
        #expect(!p256.privateKeyPlaintext.isEmpty)
        #expect(try await stack.client.decrypt(p256.privateKeyCiphertextBlob).plaintext == p256.privateKeyPlaintext)
        pair.keyPairSpec = .rsa2048
        #expect(
            await code { _ = try await signer.call(KMSMethod.generateDataKeyPair, pair) } == "AccessDeniedException")
        await stack.stop()
    }

    @Test func importedMaterialExpiresAndTheSameMaterialComesBack() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--reaper-interval-seconds", "1"])
        let kms = stack.client
        let key = try await Self.createKey(kms, spec: .symmetricDefault, usage: .encryptDecrypt, origin: .external)
        #expect(key.keyState == .pendingImport)
        #expect(!key.hasCurrentKeyMaterialID)
        let material = (0..<32).map { UInt8($0) }

        /// Imports the material, expiring `validFor` seconds after the import is sent (timed
        /// from then, since making a 3072-bit wrapping key can take seconds on a loaded machine).
        func importMaterial(validFor: TimeInterval?) async throws -> String {
            var parameters = KMSGetParametersForImportRequest()
            parameters.keyID = key.keyID
            parameters.wrappingAlgorithm = .rsaAesKeyWrapSha256
            parameters.wrappingKeySpec = .rsa3072
            let answer = try await kms.call(KMSMethod.getParametersForImport, parameters)
            let wrappingKey = try PublicKey(spkiDER: [UInt8](answer.publicKey), spec: .rsa3072)
            var request = KMSImportKeyMaterialRequest()
            request.keyID = key.keyID
            request.importToken = answer.importToken
            request.encryptedKeyMaterial = Data(
                try ImportedKeyMaterial.wrap(material, algorithm: .rsaAesKeyWrapSha256, wrappingKey: wrappingKey))
            if let validFor {
                request.validTo = .init(date: Date().addingTimeInterval(validFor))
                request.expirationModel = .keyMaterialExpires
            } else {
                request.expirationModel = .keyMaterialDoesNotExpire
            }
            return try await kms.call(KMSMethod.importKeyMaterial, request).keyMaterialID
        }

        let materialID = try await importMaterial(validFor: 8)
        #expect(materialID.count == 64)
        let blob = try await kms.encrypt(key.keyID, [1, 2, 3])
        #expect(try await kms.describe(key.keyID).expirationModel == .keyMaterialExpires)
        // The reaper deletes the material at ValidTo; the key waits for the same material again.
        var state = KMSKeyState.enabled
        for _ in 0..<160 where state != .pendingImport {
            try await Task.sleep(for: .milliseconds(250))
            state = try await kms.describe(key.keyID).keyState
        }
        #expect(state == .pendingImport)
        #expect(await code { _ = try await kms.decrypt(blob) } == "KMSInvalidStateException")
        #expect(try await importMaterial(validFor: nil) == materialID)
        let described = try await kms.describe(key.keyID)
        #expect(described.keyState == .enabled)
        #expect(described.expirationModel == .keyMaterialDoesNotExpire)
        #expect(try await kms.decrypt(blob).plaintext == Data([1, 2, 3]))
        await stack.stop()
    }
}
