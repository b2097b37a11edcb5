import Foundation
import KMSClient
import KMSProto
import KMSRPC

/// Sign and Verify on one SIGN_VERIFY key; Verify checks a signature made during setup.
struct SigningTarget: Sendable {
    let sign: KMSSignRequest
    let verify: KMSVerifyRequest

    /// The algorithm benchmarked on a key spec, and the digest length it signs. The message is
    /// a digest sent as DIGEST, so the load is the signature and not hashing; Ed25519 and ML-DSA
    /// take no digest and sign the payload bytes as RAW (digestBytes nil).
    static func algorithm(for spec: KMSKeySpec) -> (algorithm: KMSSigningAlgorithmSpec, digestBytes: Int?)? {
        switch spec {
        case .rsa2048, .rsa3072, .rsa4096: (.rsassaPssSha256, 32)
        case .eccNistP256, .eccSecgP256K1: (.ecdsaSha256, 32)
        case .eccNistP384: (.ecdsaSha384, 48)
        case .eccNistP521: (.ecdsaSha512, 64)
        case .eccNistEdwards25519: (.ed25519Sha512, nil)
        case .mlDsa65, .mlDsa87: (.mlDsaShake256, nil)
        default: nil
        }
    }

    static func prepare(client: KMSClient, keyReference: String, spec: KMSKeySpec, payload: Data) async throws
        -> SigningTarget
    {
        guard let choice = Self.algorithm(for: spec) else {
            throw KMSClientError(
                code: "ValidationException",
                message: "Sign and Verify need an RSA, ECC, Ed25519 or ML-DSA key, not \(spec.awsName)",
                retryable: false)
        }
        let (algorithm, digestBytes) = choice
        var sign = KMSSignRequest()
        sign.keyID = keyReference
        sign.signingAlgorithm = algorithm
        if let digestBytes {
            sign.message = Data((0..<digestBytes).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
            sign.messageType = .digest
        } else {
            sign.message = payload
            sign.messageType = .raw
        }
        var verify = KMSVerifyRequest()
        verify.keyID = keyReference
        verify.message = sign.message
        verify.messageType = sign.messageType
        verify.signingAlgorithm = algorithm
        verify.signature = try await client.call(KMSMethod.sign, sign).signature
        return SigningTarget(sign: sign, verify: verify)
    }
}

/// GenerateMac and VerifyMac on one GENERATE_VERIFY_MAC key, over the payload bytes; VerifyMac
/// checks a MAC made during setup.
struct MacTarget: Sendable {
    let generate: KMSGenerateMacRequest
    let verify: KMSVerifyMacRequest

    static func algorithm(for spec: KMSKeySpec) -> KMSMacAlgorithmSpec? {
        switch spec {
        case .hmac224: .hmacSha224
        case .hmac256: .hmacSha256
        case .hmac384: .hmacSha384
        case .hmac512: .hmacSha512
        default: nil
        }
    }

    static func prepare(client: KMSClient, keyReference: String, spec: KMSKeySpec, payload: Data) async throws
        -> MacTarget
    {
        guard let algorithm = Self.algorithm(for: spec) else {
            throw KMSClientError(
                code: "ValidationException", message: "GenerateMac and VerifyMac need an HMAC key, not \(spec.awsName)",
                retryable: false)
        }
        var generate = KMSGenerateMacRequest()
        generate.keyID = keyReference
        generate.macAlgorithm = algorithm
        generate.message = payload
        var verify = KMSVerifyMacRequest()
        verify.keyID = keyReference
        verify.macAlgorithm = algorithm
        verify.message = payload
        verify.mac = try await client.call(KMSMethod.generateMac, generate).mac
        return MacTarget(generate: generate, verify: verify)
    }
}
