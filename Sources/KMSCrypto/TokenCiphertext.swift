import KMSDomain

/// The ciphertext blob of a KMS key whose material is a non-extractable AES-256 key in a PKCS #11
/// token (AWS_CLOUDHSM custom key stores):
///
///     version 2 (1) | key id (16) | material id (32) | nonce (12) | ciphertext | tag (16)
///
/// The same header as SymmetricCiphertext's (the blob names its key and material, so Decrypt
/// needs no key id) less the HKDF salt: the token does AES-GCM with the key itself, which never
/// leaves it, so there is no per-message key; the nonce is random (96 bits), which bounds one
/// token key to about 2^32 encryptions (rotate before). The AAD binds the header, the key ARN (a
/// multi-Region replica shares its key id, not its ARN) and the canonical encryption context.
/// The token does the sealing; this type only lays the blob out.
public enum TokenCiphertext {
    /// The format's version byte, the blob's first (SymmetricCiphertext's is 1).
    public static let version: UInt8 = 2
    /// Bytes of the AES-GCM nonce.
    public static let nonceLength = 12
    /// Bytes of the AES-GCM tag that ends the blob.
    public static let tagLength = 16
    /// Bytes before the ciphertext: version, key id, material id and nonce.
    public static let headerLength = 1 + 16 + MaterialID.byteCount + nonceLength
    /// The bytes a blob adds to its plaintext.
    public static let overhead = headerLength + tagLength
    static let domain = Array("kms/token-ciphertext/v1".utf8)

    /// Whether `blob` says it is of this format (its version byte); `parse` checks the rest.
    public static func claims(_ blob: [UInt8]) -> Bool { blob.first == version }

    /// A blob's parts.
    public struct Parts: Sendable, Equatable {
        /// The key the blob was made under.
        public var keyID: KeyID
        /// The token key (material version) that sealed it.
        public var materialID: MaterialID
        /// The AES-GCM nonce.
        public var nonce: [UInt8]
        /// Everything before the ciphertext, as authenticated.
        public var header: [UInt8]
        /// Ciphertext then tag, as the token takes and gives it.
        public var sealed: [UInt8]
    }

    /// The header of a new blob, with a fresh random nonce.
    public static func header(keyID: KeyID, materialID: MaterialID) -> [UInt8] {
        var header: [UInt8] = [version]
        header.reserveCapacity(headerLength)
        header.append(contentsOf: keyID.bytes)
        header.append(contentsOf: materialID.bytes)
        header.append(contentsOf: randomBytes(nonceLength))
        return header
    }

    /// The nonce of a header made by `header(keyID:materialID:)`.
    public static func nonce(ofHeader header: [UInt8]) -> [UInt8] { Array(header[(headerLength - nonceLength)...]) }

    /// Splits a blob; InvalidCiphertextException for anything not of this format.
    public static func parse(_ blob: [UInt8]) throws(KMSError) -> Parts {
        guard blob.count >= overhead, blob[0] == version else {
            throw .invalidCiphertext("the ciphertext is not a blob this service produced (bad length or version)")
        }
        return Parts(
            keyID: KeyID(bytes: blob[1..<17]),
            materialID: try MaterialID(bytes: blob[17..<(17 + MaterialID.byteCount)]),
            nonce: Array(blob[(headerLength - nonceLength)..<headerLength]),
            header: Array(blob[..<headerLength]),
            sealed: Array(blob[headerLength...])
        )
    }

    /// What the token authenticates with the plaintext: domain, header, key ARN, context.
    public static func additionalData(header: [UInt8], keyARN: String, encryptionContext: [String: String])
        throws(KMSError) -> [UInt8]
    {
        let context = try EncryptionContextEncoding.canonicalBytes(encryptionContext)
        let arn = Array(keyARN.utf8)
        var aad = domain
        aad.append(contentsOf: header)
        aad.appendBigEndian(UInt32(arn.count))
        aad.append(contentsOf: arn)
        aad.append(contentsOf: context)
        return aad
    }

    /// The label of a material version's token key: "<key id>/<material id hex>".
    public static func tokenKeyLabel(keyID: KeyID, materialID: MaterialID) -> String {
        "\(keyID)/\(materialID.hex)"
    }
}
