import CKMSOpenSSL
import KMSDomain

/// How one Sign or Verify request maps onto the shim, after checking it is a valid request:
/// the algorithm belongs to the key's spec, the message type suits the algorithm, a DIGEST has
/// the digest's length. Sign and Verify share this so that they refuse exactly the same things.
/// ML_DSA_SHAKE_256 does not go through the shim (swift-crypto signs it): its scheme and hash are 0.
struct SignatureScheme {
    var scheme: Int32
    var hash: Int32
    var isDigest: Bool

    init(spec: KeySpec, algorithm: SigningAlgorithm, messageType: MessageType, messageBytes: Int) throws(KMSError) {
        // Ed25519ph needs OpenSSL 3.2; refuse it plainly rather than call it a usage error.
        if algorithm == .ed25519PhSha512 {
            throw KMSError(
                .unsupportedOperation, "ED25519_PH_SHA_512 (Ed25519ph) is not supported; use ED25519_SHA_512")
        }
        let allowed = spec.signingAlgorithms(usage: .signVerify)
        guard allowed.contains(algorithm) else {
            let names = allowed.map(\.rawValue).joined(separator: ", ")
            throw KMSError(
                .invalidKeyUsage,
                "\(algorithm.rawValue) is not a signing algorithm of a \(spec.rawValue) key (it supports: "
                    + "\(names.isEmpty ? "none" : names))"
            )
        }
        switch messageType {
        case .raw:
            self.isDigest = false
        case .digest:
            guard let digestBytes = algorithm.digestBytes else {
                throw .validation("\(algorithm.rawValue) signs the message itself: MessageType must be RAW")
            }
            guard messageBytes == digestBytes else {
                throw .validation(
                    "a DIGEST message for \(algorithm.rawValue) must be \(digestBytes) bytes, not \(messageBytes)")
            }
            self.isDigest = true
        case .externalMu:
            guard algorithm == .mlDsaShake256 else {
                throw .validation("MessageType EXTERNAL_MU is only for ML-DSA keys")
            }
            throw .externalMuUnsupported
        }
        switch algorithm {
        case .rsassaPkcs1V15Sha256: (scheme, hash) = (KMS_SIG_RSA_PKCS1, KMS_HASH_SHA256)
        case .rsassaPkcs1V15Sha384: (scheme, hash) = (KMS_SIG_RSA_PKCS1, KMS_HASH_SHA384)
        case .rsassaPkcs1V15Sha512: (scheme, hash) = (KMS_SIG_RSA_PKCS1, KMS_HASH_SHA512)
        case .rsassaPssSha256: (scheme, hash) = (KMS_SIG_RSA_PSS, KMS_HASH_SHA256)
        case .rsassaPssSha384: (scheme, hash) = (KMS_SIG_RSA_PSS, KMS_HASH_SHA384)
        case .rsassaPssSha512: (scheme, hash) = (KMS_SIG_RSA_PSS, KMS_HASH_SHA512)
        case .ecdsaSha256: (scheme, hash) = (KMS_SIG_ECDSA, KMS_HASH_SHA256)
        case .ecdsaSha384: (scheme, hash) = (KMS_SIG_ECDSA, KMS_HASH_SHA384)
        case .ecdsaSha512: (scheme, hash) = (KMS_SIG_ECDSA, KMS_HASH_SHA512)
        case .ed25519Sha512: (scheme, hash) = (KMS_SIG_ED25519, 0)
        case .mlDsaShake256: (scheme, hash) = (0, 0)
        case .ed25519PhSha512, .sm2dsa:
            // Unreachable: no spec this service holds lists them.
            throw KMSError(.unsupportedOperation, "\(algorithm.rawValue) is not supported")
        }
    }
}

/// The OAEP hash of an encryption algorithm, after checking the key's spec takes it.
func oaepHash(spec: KeySpec, algorithm: EncryptionAlgorithm) throws(KMSError) -> Int32 {
    guard spec.encryptionAlgorithms(usage: .encryptDecrypt).contains(algorithm), spec.isRSA else {
        throw KMSError(
            .invalidKeyUsage, "\(algorithm.rawValue) is not an encryption algorithm of a \(spec.rawValue) key")
    }
    return algorithm == .rsaesOaepSha1 ? KMS_HASH_SHA1 : KMS_HASH_SHA256
}
