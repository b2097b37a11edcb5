import CKMSOpenSSL
import KMSDomain

/// The public half of an asymmetric key: verifies signatures and encrypts with RSAES-OAEP.
public struct PublicKey: Sendable {
    /// The spec of the key this is the public half of.
    public let spec: KeySpec
    /// The DER SubjectPublicKeyInfo, as AWS GetPublicKey returns it (named-curve OIDs for EC,
    /// uncompressed points).
    public let der: [UInt8]
    let key: OpenSSLKey

    /// Parses a DER SubjectPublicKeyInfo and checks it is a key of `spec` (type, curve or modulus
    /// size); otherwise KMSError(.validation, ...).
    public init(spkiDER: [UInt8], spec: KeySpec) throws(KMSError) {
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
        self.key = key
        self.der = key.subjectPublicKeyInfo()
    }

    /// False for a signature that does not verify (including malformed DER); throws only for a
    /// bad request (wrong algorithm for the spec, DIGEST of the wrong length).
    public func verify(
        _ signature: [UInt8],
        message: [UInt8],
        messageType: MessageType,
        algorithm: SigningAlgorithm
    ) throws(KMSError) -> Bool {
        let scheme = try SignatureScheme(
            spec: spec, algorithm: algorithm, messageType: messageType, messageBytes: message.count)
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
        let ciphertext = withOutputBuffer(capacity: key.maximumOutputBytes) { out, length in
            plaintext.withUnsafeBufferPointer {
                kms_rsa_oaep_encrypt(key.pointer, hash, $0.baseAddress, $0.count, out, &length)
            }
        }
        guard let ciphertext else { throw .internalFailure("RSA encryption failed") }
        return ciphertext
    }
}
