import CKMSOpenSSL
import Crypto
import KMSDomain

/// Opens key material a customer wrapped for ImportKeyMaterial with the wrapping key from
/// GetParametersForImport.
public enum ImportedKeyMaterial {
    /// RSAES_OAEP_SHA_1/256: OAEP-decrypt. RSA_AES_KEY_WRAP_SHA_1/256: the first modulus-length
    /// bytes are an ephemeral AES-256 key under RSA-OAEP (SHA-1/SHA-256), the rest is the
    /// material under that key with AES-KWP (RFC 5649), as AWS documents it and as
    /// `openssl pkeyutl -encrypt -pkeyopt rsa_padding_mode:oaep ...` followed by
    /// `openssl enc -id-aes256-wrap-pad` produce it. RSAES_PKCS1_V1_5 and SM2PKE:
    /// KMSError(.unsupportedOperation, ...). Anything that does not open:
    /// KMSError(.invalidCiphertext, ...).
    public static func unwrap(_ encrypted: [UInt8], algorithm: WrappingAlgorithm, wrappingKey: PrivateKey)
        throws(KMSError) -> [UInt8]
    {
        let (hash, keyWrap) = try scheme(algorithm, wrappingKeySpec: wrappingKey.spec)
        let failure = KMSError.invalidCiphertext(
            "the encrypted key material does not decrypt with this wrapping key and \(algorithm.rawValue)")
        guard keyWrap else {
            do { return try wrappingKey.oaepDecrypt(encrypted, hash: hash, name: algorithm.rawValue) } catch {
                throw failure
            }
        }
        let modulusBytes = wrappingKey.spec.rsaModulusBytes ?? 0
        guard encrypted.count > modulusBytes else { throw failure }
        var ephemeral: [UInt8]
        do {
            ephemeral = try wrappingKey.oaepDecrypt(
                Array(encrypted[..<modulusBytes]), hash: hash, name: algorithm.rawValue)
        } catch {
            throw failure
        }
        defer { zeroize(&ephemeral) }
        guard ephemeral.count == 32 else { throw failure }
        do {
            return try AESKeyWrapPadded.unwrap(Array(encrypted[modulusBytes...]), kek: SymmetricKey(data: ephemeral))
        } catch {
            throw failure
        }
    }

    /// The inverse, for tests and tools: what a customer would do with the public wrapping key.
    /// Material too long for RSAES-OAEP: KMSError(.validation, ...).
    public static func wrap(_ material: [UInt8], algorithm: WrappingAlgorithm, wrappingKey: PublicKey) throws(KMSError)
        -> [UInt8]
    {
        let (hash, keyWrap) = try scheme(algorithm, wrappingKeySpec: wrappingKey.spec)
        let oaep: EncryptionAlgorithm = hash == KMS_HASH_SHA1 ? .rsaesOaepSha1 : .rsaesOaepSha256
        guard keyWrap else { return try wrappingKey.encrypt(material, algorithm: oaep) }
        let ephemeral = SymmetricKey(size: .bits256)
        let wrappedMaterial = try AESKeyWrapPadded.wrap(material, kek: ephemeral)
        var ephemeralBytes = ephemeral.withUnsafeBytes { Array($0) }
        defer { zeroize(&ephemeralBytes) }
        return try wrappingKey.encrypt(ephemeralBytes, algorithm: oaep) + wrappedMaterial
    }

    /// The OAEP hash, and whether AES key wrap follows.
    private static func scheme(_ algorithm: WrappingAlgorithm, wrappingKeySpec spec: KeySpec) throws(KMSError) -> (
        hash: Int32, keyWrap: Bool
    ) {
        let scheme: (Int32, Bool)
        switch algorithm {
        case .rsaesOaepSha1: scheme = (KMS_HASH_SHA1, false)
        case .rsaesOaepSha256: scheme = (KMS_HASH_SHA256, false)
        case .rsaAesKeyWrapSha1: scheme = (KMS_HASH_SHA1, true)
        case .rsaAesKeyWrapSha256: scheme = (KMS_HASH_SHA256, true)
        case .rsaesPkcs1V15, .sm2pke:
            // PKCS#1 v1.5 is the padding-oracle-prone one (AWS is retiring it); SM2 is China-only.
            throw KMSError(.unsupportedOperation, "the wrapping algorithm \(algorithm.rawValue) is not supported")
        }
        guard spec.isRSA else {
            throw KMSError(
                .unsupportedOperation, "\(algorithm.rawValue) needs an RSA wrapping key, not \(spec.rawValue)")
        }
        return scheme
    }
}
