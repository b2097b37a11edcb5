import Crypto
import Foundation
import KMSDomain

// ML-DSA (FIPS 204) comes from swift-crypto, not the OpenSSL shim: Debian's OpenSSL 3.0 has no
// ML-DSA. swift-crypto offers ML-DSA-65 and ML-DSA-87 only, signing whole messages ("pure"
// ML-DSA) with an optional context; AWS signs RAW messages with the empty context, as here.

/// The private half of an ML-DSA-65 or ML-DSA-87 key, built from its 32-byte seed (FIPS 204
/// ML-DSA.KeyGen_internal, Algorithm 6). swift-crypto keeps its own copy of the seed, which
/// this code cannot zero; every copy made here is zeroed.
enum MLDSAPrivateKey: Sendable {
    case mlDsa65(MLDSA65.PrivateKey)
    case mlDsa87(MLDSA87.PrivateKey)

    /// A fresh key from the system's random generator.
    static func generate(_ spec: KeySpec) throws(KMSError) -> MLDSAPrivateKey {
        do {
            switch spec {
            case .mlDsa65: return .mlDsa65(try MLDSA65.PrivateKey())
            case .mlDsa87: return .mlDsa87(try MLDSA87.PrivateKey())
            default: break
            }
        } catch {
            throw .internalFailure("ML-DSA key generation failed")
        }
        throw KMSError(.unsupportedOperation, "cannot generate a \(spec.rawValue) key pair")
    }

    /// The key `seed` expands to; a seed that is not 32 bytes: KMSError(.incorrectKeyMaterial, ...).
    init(seed: [UInt8], spec: KeySpec) throws(KMSError) {
        guard seed.count == MLDSAEncoding.seedBytes else {
            throw KMSError(
                .incorrectKeyMaterial, "an ML-DSA seed is \(MLDSAEncoding.seedBytes) bytes, not \(seed.count)")
        }
        do {
            switch spec {
            case .mlDsa65: self = .mlDsa65(try MLDSA65.PrivateKey(seedRepresentation: seed, publicKey: nil))
            case .mlDsa87: self = .mlDsa87(try MLDSA87.PrivateKey(seedRepresentation: seed, publicKey: nil))
            default: throw KMSError(.unsupportedOperation, "\(spec.rawValue) is not an ML-DSA key spec")
            }
        } catch let error as KMSError {
            throw error
        } catch {
            throw .internalFailure("ML-DSA key expansion failed")
        }
    }

    /// The pairwise consistency test every parsed private key passes (the OpenSSL keys in the
    /// shim): a signature verifies with the key's own public half. A seed cannot give an
    /// inconsistent pair, so a failure is a fault of the library or the machine.
    func checkPairwiseConsistency() throws(KMSError) {
        let message = Array("kms pairwise consistency test..".utf8)
        guard publicKey.isValid(try sign(message), message: message) else {
            throw .internalFailure("an ML-DSA key failed its pairwise consistency test", retryable: false)
        }
    }

    /// The 32-byte seed, handed to `body` and zeroed afterwards.
    func withSeed<R>(_ body: ([UInt8]) throws -> R) rethrows -> R {
        var seed: [UInt8]
        switch self {
        case .mlDsa65(let key): seed = [UInt8](key.seedRepresentation)
        case .mlDsa87(let key): seed = [UInt8](key.seedRepresentation)
        }
        defer { zeroize(&seed) }
        return try body(seed)
    }

    /// The public half.
    var publicKey: MLDSAPublicKey {
        switch self {
        case .mlDsa65(let key): .mlDsa65(key.publicKey)
        case .mlDsa87(let key): .mlDsa87(key.publicKey)
        }
    }

    /// Pure ML-DSA over the whole message with the empty context (FIPS 204 Algorithm 2), hedged
    /// (fresh randomness each time), as AWS signs MessageType RAW.
    func sign(_ message: [UInt8]) throws(KMSError) -> [UInt8] {
        do {
            switch self {
            case .mlDsa65(let key): return [UInt8](try key.signature(for: message))
            case .mlDsa87(let key): return [UInt8](try key.signature(for: message))
            }
        } catch {
            throw .internalFailure("ML-DSA signing failed")
        }
    }
}

/// The public half of an ML-DSA-65 or ML-DSA-87 key.
enum MLDSAPublicKey: Sendable {
    case mlDsa65(MLDSA65.PublicKey)
    case mlDsa87(MLDSA87.PublicKey)

    /// Parses the FIPS 204 encoding (pkEncode); one of the wrong length: KMSError(.validation, ...).
    init(raw: [UInt8], spec: KeySpec) throws(KMSError) {
        do {
            switch spec {
            case .mlDsa65: self = .mlDsa65(try MLDSA65.PublicKey(rawRepresentation: raw))
            case .mlDsa87: self = .mlDsa87(try MLDSA87.PublicKey(rawRepresentation: raw))
            default: throw KMSError(.unsupportedOperation, "\(spec.rawValue) is not an ML-DSA key spec")
            }
        } catch let error as KMSError {
            throw error
        } catch {
            throw .validation("the public key is not an encoded \(spec.rawValue) public key")
        }
    }

    /// The FIPS 204 encoding (pkEncode): 1952 bytes for ML-DSA-65, 2592 for ML-DSA-87.
    var raw: [UInt8] {
        switch self {
        case .mlDsa65(let key): [UInt8](key.rawRepresentation)
        case .mlDsa87(let key): [UInt8](key.rawRepresentation)
        }
    }

    /// Pure ML-DSA verification with the empty context; false for any signature that does not
    /// verify, including one of the wrong length.
    func isValid(_ signature: [UInt8], message: [UInt8]) -> Bool {
        switch self {
        case .mlDsa65(let key): key.isValidSignature(signature, for: message)
        case .mlDsa87(let key): key.isValidSignature(signature, for: message)
        }
    }
}
