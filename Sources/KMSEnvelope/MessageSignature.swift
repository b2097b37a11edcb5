import Crypto
import Foundation

/// The private key of a signed suite's message: ECDSA P-256 (suite 0x0214) or P-384 (the others).
enum MessageSigningKey: Sendable {
    case p256(P256.Signing.PrivateKey)
    case p384(P384.Signing.PrivateKey)

    /// A new key for one message of `suite`; nil for an unsigned suite.
    init?(for suite: AlgorithmSuite) {
        switch suite.signature {
        case nil: return nil
        case .p256: self = .p256(P256.Signing.PrivateKey())
        case .p384: self = .p384(P384.Signing.PrivateKey())
        }
    }

    /// The public key as the encryption context carries it: the compressed point, base64.
    var encodedPublicKey: String {
        switch self {
        case .p256(let key): key.publicKey.compressedRepresentation.base64EncodedString()
        case .p384(let key): key.publicKey.compressedRepresentation.base64EncodedString()
        }
    }

    /// The DER signature of everything `digest` has taken.
    func sign(_ digest: MessageDigest) throws -> [UInt8] {
        switch (self, digest) {
        case (.p256(let key), .sha256(let hash)): Array(try key.signature(for: hash.finalize()).derRepresentation)
        case (.p384(let key), .sha384(let hash)): Array(try key.signature(for: hash.finalize()).derRepresentation)
        default: throw EnvelopeError.invalidArgument("the signing key and the digest are of different suites")
        }
    }
}

/// The public key that verifies a signed message, from its encryption context.
enum MessageVerificationKey {
    case p256(P256.Signing.PublicKey)
    case p384(P384.Signing.PublicKey)

    /// The key of `suite` that `encoded` (base64 of a compressed point) holds; nil if it holds none.
    init?(suite: AlgorithmSuite, encoded: String) {
        guard let point = Data(base64Encoded: encoded) else { return nil }
        switch suite.signature {
        case nil: return nil
        case .p256:
            guard let key = try? P256.Signing.PublicKey(compressedRepresentation: point) else { return nil }
            self = .p256(key)
        case .p384:
            guard let key = try? P384.Signing.PublicKey(compressedRepresentation: point) else { return nil }
            self = .p384(key)
        }
    }

    /// Whether `signature` (DER) signs what `digest` has taken.
    func verifies(_ signature: [UInt8], _ digest: MessageDigest) -> Bool {
        switch (self, digest) {
        case (.p256(let key), .sha256(let hash)):
            guard let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(parsed, for: hash.finalize())
        case (.p384(let key), .sha384(let hash)):
            guard let parsed = try? P384.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(parsed, for: hash.finalize())
        default: return false
        }
    }
}

/// The running hash a signature covers: SHA-256 for P-256, SHA-384 for P-384.
enum MessageDigest {
    case sha256(SHA256)
    case sha384(SHA384)

    init(_ signature: AlgorithmSuite.Signature) {
        switch signature {
        case .p256: self = .sha256(SHA256())
        case .p384: self = .sha384(SHA384())
        }
    }

    mutating func update(data: some DataProtocol) {
        switch self {
        case .sha256(var hash):
            hash.update(data: data)
            self = .sha256(hash)
        case .sha384(var hash):
            hash.update(data: data)
            self = .sha384(hash)
        }
    }
}
