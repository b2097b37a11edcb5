import Crypto
import KMSDomain

/// ECDSA on P-256, P-384 and P-521 through swift-crypto (BoringSSL), beside the key's EVP_PKEY,
/// which keeps every other use (its PKCS #8 form, ECDH). The system's OpenSSL 3.0 verified a
/// P-256 signature in about 61 us and signed in 21 (`openssl speed ecdsap256`), and each call
/// made and configured an EVP_PKEY_CTX through its provider lookups, about a fifth more in
/// kms-cryptod's profile of Verify; BoringSSL's verifies in about 50 us and signs in 18, from a
/// key parsed once. secp256k1 (which swift-crypto lacks), RSA and Ed25519 stay with OpenSSL.
/// Signatures are DER, as AWS returns them; one that is not strict DER does not verify.
enum NISTCurveECDSA {
    /// The private half, for signing; nil for a spec that is not a NIST curve.
    enum SigningKey: Sendable {
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case p521(P521.Signing.PrivateKey)

        /// The same key as `key`, already checked by OpenSSL to be a key of `spec`; nil for a
        /// spec that is not a NIST curve. Its PKCS #8 DER, read only for those, is zeroed after.
        init?(_ key: OpenSSLKey, spec: KeySpec) {
            let parse: ([UInt8]) throws -> SigningKey
            switch spec {
            case .eccNistP256: parse = { .p256(try P256.Signing.PrivateKey(derRepresentation: $0)) }
            case .eccNistP384: parse = { .p384(try P384.Signing.PrivateKey(derRepresentation: $0)) }
            case .eccNistP521: parse = { .p521(try P521.Signing.PrivateKey(derRepresentation: $0)) }
            default: return nil
            }
            var der = key.pkcs8()
            defer { zeroize(&der) }
            // OpenSSL parsed it: a key BoringSSL refused would keep to OpenSSL's path.
            guard let parsed = try? parse(der) else { return nil }
            self = parsed
        }

        /// The DER signature of `digest` (the message's hash, of the algorithm's length).
        func sign(digest: [UInt8]) throws(KMSError) -> [UInt8] {
            let digest = PrecomputedDigest(bytes: digest)
            do {
                switch self {
                case .p256(let key): return Array(try key.signature(for: digest).derRepresentation)
                case .p384(let key): return Array(try key.signature(for: digest).derRepresentation)
                case .p521(let key): return Array(try key.signature(for: digest).derRepresentation)
                }
            } catch {
                throw .internalFailure("signing failed")
            }
        }
    }

    /// The public half, for verifying; nil for a spec that is not a NIST curve.
    enum VerifyingKey: Sendable {
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)

        /// `spki` is the key's DER SubjectPublicKeyInfo, already checked by OpenSSL to be a key of `spec`.
        init?(spki der: [UInt8], spec: KeySpec) {
            do {
                switch spec {
                case .eccNistP256: self = .p256(try P256.Signing.PublicKey(derRepresentation: der))
                case .eccNistP384: self = .p384(try P384.Signing.PublicKey(derRepresentation: der))
                case .eccNistP521: self = .p521(try P521.Signing.PublicKey(derRepresentation: der))
                default: return nil
                }
            } catch {
                return nil
            }
        }

        /// False for a signature that does not verify or is not the DER ECDSA-Sig-Value of its
        /// (r, s) exactly: as OpenSSL does, the signature must be its own canonical encoding, so
        /// trailing bytes, long-form lengths or padded integers do not verify.
        func isValid(_ signature: [UInt8], digest: [UInt8]) -> Bool {
            let digest = PrecomputedDigest(bytes: digest)
            switch self {
            case .p256(let key):
                guard let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature),
                    parsed.derRepresentation.elementsEqual(signature)
                else { return false }
                return key.isValidSignature(parsed, for: digest)
            case .p384(let key):
                guard let parsed = try? P384.Signing.ECDSASignature(derRepresentation: signature),
                    parsed.derRepresentation.elementsEqual(signature)
                else { return false }
                return key.isValidSignature(parsed, for: digest)
            case .p521(let key):
                guard let parsed = try? P521.Signing.ECDSASignature(derRepresentation: signature),
                    parsed.derRepresentation.elementsEqual(signature)
                else { return false }
                return key.isValidSignature(parsed, for: digest)
            }
        }
    }

    /// The message's hash for `algorithm` (ECDSA_SHA_256/384/512), or the message itself when it
    /// is already that DIGEST (SignatureScheme checked its length).
    static func digest(of message: [UInt8], algorithm: SigningAlgorithm, isDigest: Bool) -> [UInt8] {
        if isDigest { return message }
        switch algorithm {
        case .ecdsaSha384: return Array(SHA384.hash(data: message))
        case .ecdsaSha512: return Array(SHA512.hash(data: message))
        default: return Array(SHA256.hash(data: message))
        }
    }
}

/// A hash computed elsewhere (a DIGEST message, or SHA-2 above), for swift-crypto's ECDSA,
/// which signs and verifies any `Digest` by its bytes. `byteCount` is not read by that path.
private struct PrecomputedDigest: Digest {
    static var byteCount: Int { 64 }
    let bytes: [UInt8]

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try self.bytes.withUnsafeBytes(body)
    }

    func makeIterator() -> IndexingIterator<[UInt8]> { self.bytes.makeIterator() }

    var description: String { "precomputed digest (\(self.bytes.count) bytes)" }
}
