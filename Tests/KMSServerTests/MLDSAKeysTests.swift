import Foundation
import KMSClient
import KMSCrypto
import KMSDomain
import KMSProto
import KMSTestSupport
import Testing

/// Issue 20 §2: ML_DSA_65 and ML_DSA_87 signing keys through the binary protocol, and through
/// the AWS JSON API with boto3 cross-checked with Python's cryptography (its own ML-DSA);
/// ML_DSA_44 and EXTERNAL_MU refused (Tests/aws-clients/mldsa_suite.py).
@Suite struct MLDSAKeysTests {
    @Test func mlDsaKeysThroughBoto3AgainstAnIndependentImplementation() async throws {
        let suite = try await AWSClientTests.runOnNewStack(["mldsa_suite.py"])[0]
        #expect(suite.status == 0, "\(suite.output)")
    }

    /// The code `body` failed with, or "none".
    static func code(_ body: () async throws -> some Any) async -> String {
        do {
            _ = try await body()
            return "none"
        } catch let error as KMSClientError {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [KMSKeySpec.mlDsa65, .mlDsa87])
    func signAndVerifyOverTheBinaryProtocol(spec: KMSKeySpec) async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await AsymmetricKeyTests.createKey(kms, spec: spec, usage: .signVerify)
        #expect(key.keySpec == spec)
        #expect(key.signingAlgorithms == [.mlDsaShake256])
        var get = KMSGetPublicKeyRequest()
        get.keyID = key.keyID
        let info = try await kms.call(KMSMethod.getPublicKey, get)
        #expect(info.signingAlgorithms == [.mlDsaShake256])
        let domainSpec = try #require(KeySpec(rawValue: spec.awsName))
        let publicKey = try PublicKey(spkiDER: [UInt8](info.publicKey), spec: domainSpec)

        let message = Array("signed over the binary protocol".utf8)
        var sign = KMSSignRequest()
        sign.keyID = key.keyID
        sign.message = Data(message)
        sign.signingAlgorithm = .mlDsaShake256
        let signature = try await kms.call(KMSMethod.sign, sign).signature
        #expect(
            try publicKey.verify([UInt8](signature), message: message, messageType: .raw, algorithm: .mlDsaShake256))

        var verify = KMSVerifyRequest()
        verify.keyID = key.keyID
        verify.message = Data(message)
        verify.messageType = .raw
        verify.signature = signature
        verify.signingAlgorithm = .mlDsaShake256
        #expect(try await kms.call(KMSMethod.verify, verify).signatureValid)
        var tampered = verify
        tampered.signature[7] ^= 0x10
        #expect(await Self.code { try await kms.call(KMSMethod.verify, tampered) } == "KMSInvalidSignatureException")

        var mu = sign
        mu.message = Data(repeating: 1, count: 64)
        mu.messageType = .externalMu
        #expect(await Self.code { try await kms.call(KMSMethod.sign, mu) } == "UnsupportedOperationException")
        var ecdsa = sign
        ecdsa.signingAlgorithm = .ecdsaSha256
        #expect(await Self.code { try await kms.call(KMSMethod.sign, ecdsa) } == "InvalidKeyUsageException")
        await stack.stop()
    }

    @Test func mlDsa44IsRefusedAtCreateKey() async throws {
        let stack = try await KMSStack.start()
        let code = await Self.code {
            try await AsymmetricKeyTests.createKey(stack.client, spec: .mlDsa44, usage: .signVerify)
        }
        #expect(code == "UnsupportedOperationException")
        await stack.stop()
    }
}
