import CKMSOpenSSL
import KMSDomain

/// The public half of an asymmetric key: verifies signatures and encrypts with RSAES-OAEP.
public struct PublicKey: Sendable {
    /// The spec of the key this is the public half of.
    public let spec: KeySpec
    /// The DER SubjectPublicKeyInfo, as AWS GetPublicKey returns it (named-curve OIDs for EC,
    /// uncompressed points; ML-DSA: the NIST OID without parameters and the raw key, RFC 9881).
    public let der: [UInt8]
    let backing: Backing
    /// A NIST curve's key as swift-crypto holds it, for ECDSA (NISTCurveECDSA says why); nil
    /// for every other spec.
    let ecdsa: NISTCurveECDSA.VerifyingKey?

    /// Which library holds the key.
    enum Backing: Sendable {
        case openSSL(OpenSSLKey)
        case mlDsa(MLDSAPublicKey)
    }

    /// Parses a DER SubjectPublicKeyInfo and checks it is a key of `spec` (type, curve or modulus
    /// size); otherwise KMSError(.validation, ...).
    public init(spkiDER: [UInt8], spec: KeySpec) throws(KMSError) {
        if spec.isMLDSA {
            guard let raw = MLDSAEncoding.rawPublicKey(spki: spkiDER, spec: spec) else {
                throw .validation("the public key is not a DER SubjectPublicKeyInfo of a \(spec.rawValue) key")
            }
            self.init(mlDsa: try MLDSAPublicKey(raw: raw, spec: spec), spec: spec)
            return
        }
        guard let expected = spec.keyShape else {
            throw KMSError(.unsupportedOperation, "\(spec.rawValue) is not an asymmetric key spec")
        }
        guard let key = OpenSSLKey.publicKey(spki: spkiDER) else {
            throw .validation("the public key is not a DER SubjectPublicKeyInfo")
        }
        guard let shape = key.shape, shape == expected else {
            throw .validation(
                "the public key is \(key.shape?.name ?? "of an unsupported kind"), not a \(spec.rawValue) key")
        }
        self.init(key: key, spec: spec)
    }

    /// `key` must be a key of `spec`.
    init(key: OpenSSLKey, spec: KeySpec) {
        self.spec = spec
        self.backing = .openSSL(key)
        self.der = key.subjectPublicKeyInfo()
        self.ecdsa = NISTCurveECDSA.VerifyingKey(spki: self.der, spec: spec)
    }

    /// `key` must be a key of `spec`.
    init(mlDsa key: MLDSAPublicKey, spec: KeySpec) {
        self.spec = spec
        self.backing = .mlDsa(key)
        self.der = MLDSAEncoding.subjectPublicKeyInfo(raw: key.raw, spec: spec)
        self.ecdsa = nil
    }

    /// The EVP_PKEY of an RSA, EC or Ed25519 key; callers have checked the spec suits their operation.
    private func openSSLKey() throws(KMSError) -> OpenSSLKey {
        guard case .openSSL(let key) = backing else {
            throw KMSError(.invalidKeyUsage, "a \(spec.rawValue) key cannot do this operation")
        }
        return key
    }

    /// False for a signature that does not verify (including malformed DER); throws only for a
    /// bad request (wrong algorithm for the spec, DIGEST of the wrong length, EXTERNAL_MU).
    public func verify(
        _ signature: [UInt8],
        message: [UInt8],
        messageType: MessageType,
        algorithm: SigningAlgorithm
    ) throws(KMSError) -> Bool {
        let scheme = try SignatureScheme(
            spec: spec, algorithm: algorithm, messageType: messageType, messageBytes: message.count)
        if case .mlDsa(let key) = backing { return key.isValid(signature, message: message) }
        if let ecdsa {
            return ecdsa.isValid(
                signature, digest: NISTCurveECDSA.digest(of: message, algorithm: algorithm, isDigest: scheme.isDigest))
        }
        let key = try openSSLKey()
        let status = message.withUnsafeBufferPointer { message in
            signature.withUnsafeBufferPointer { signature in
                kms_verify(
                    key.pointer, scheme.scheme, scheme.hash, scheme.isDigest ? 1 : 0,
                    message.baseAddress, message.count, signature.baseAddress, signature.count)
            }
        }
        return status == 1
    }

    /// RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256 (MGF1 with the same hash, empty label); plaintext
    /// longer than spec.maximumPlaintextBytes(algorithm): KMSError(.validation, ...).
    public func encrypt(_ plaintext: [UInt8], algorithm: EncryptionAlgorithm) throws(KMSError) -> [UInt8] {
        let hash = try oaepHash(spec: spec, algorithm: algorithm)
        let limit = spec.maximumPlaintextBytes(algorithm) ?? 0
        guard plaintext.count <= limit else {
            throw .validation(
                "\(algorithm.rawValue) with a \(spec.rawValue) key encrypts at most \(limit) bytes, not "
                    + "\(plaintext.count)"
            )
        }
        let key = try openSSLKey()
        let ciphertext = withOutputBuffer(capacity: key.maximumOutputBytes) { out, length in
            plaintext.withUnsafeBufferPointer {
                kms_rsa_oaep_encrypt(key.pointer, hash, $0.baseAddress, $0.count, out, &length)
            }
        }
        guard let ciphertext else { throw .internalFailure("RSA encryption failed") }
        return ciphertext
    }
}
