import Crypto
import KMSDomain

/// The blob of a key in an external key store (AWS's double encryption): a symmetric
/// ciphertext blob of the key's own material (the inner layer), encrypted again by the XKS
/// proxy with the external key (the outer layer), whose parts the proxy returned are kept here.
///
///     version (1) = 3 | key id (16) | material id (32) | iv length (1) | iv | tag (16) |
///     metadata length (1) | ciphertextMetadata | outer ciphertext
///
/// The key and material ids are the inner blob's, so that kmsd finds the key without the proxy;
/// they are authenticated by the outer AAD (`outerAAD`) and checked against the inner header.
public enum XKSCiphertext {
    /// The format's version byte (1: SymmetricCiphertext, 2: TokenCiphertext).
    public static let version: UInt8 = 3
    static let idsLength = 16 + MaterialID.byteCount
    static let domain = Array("kms/xks-outer-aad/v1".utf8)
    /// The XKS API's IV sizes: 12 bytes (AES-GCM's usual) or 16, nothing in between.
    static let ivSizes: Set<Int> = [12, 16]

    /// The parts of a blob.
    public struct Parts: Sendable, Equatable {
        /// The key and material the inner layer was sealed with.
        public let header: SymmetricCiphertext.Header
        /// The proxy's initialization vector (12 or 16 bytes).
        public let initializationVector: [UInt8]
        /// The proxy's authentication tag (16 bytes).
        public let authenticationTag: [UInt8]
        /// What the proxy asked to be given back (at most 20 bytes).
        public let ciphertextMetadata: [UInt8]
        /// The inner blob, encrypted by the proxy.
        public let ciphertext: [UInt8]
    }

    /// Whether `blob` claims this format (its parsing may still fail).
    public static func claims(_ blob: [UInt8]) -> Bool { blob.first == version }

    /// The blob of the proxy's answer to the encryption of `inner` (a SymmetricCiphertext blob).
    public static func blob(
        inner: [UInt8], initializationVector: [UInt8], authenticationTag: [UInt8], ciphertextMetadata: [UInt8],
        ciphertext: [UInt8]
    ) throws(KMSError) -> [UInt8] {
        _ = try SymmetricCiphertext.header(of: inner)
        guard ivSizes.contains(initializationVector.count), authenticationTag.count == 16,
            ciphertextMetadata.count <= 20, ciphertext.count == inner.count
        else { throw .internalFailure("the XKS proxy's encryption has parts of the wrong sizes") }
        var blob: [UInt8] = [version]
        let length = 1 + idsLength + 2 + initializationVector.count + 16 + ciphertextMetadata.count + ciphertext.count
        blob.reserveCapacity(length)
        blob += inner[1..<(1 + idsLength)]
        blob.append(UInt8(initializationVector.count))
        blob += initializationVector
        blob += authenticationTag
        blob.append(UInt8(ciphertextMetadata.count))
        blob += ciphertextMetadata
        blob += ciphertext
        return blob
    }

    /// Parses a blob; InvalidCiphertextException for anything that is not one.
    public static func parse(_ blob: [UInt8]) throws(KMSError) -> Parts {
        let bad = KMSError.invalidCiphertext(
            "the ciphertext is not a blob this service produced (bad length or version)")
        guard blob.count > 1 + idsLength + 1, blob[0] == version else { throw bad }
        var at = 1 + idsLength
        let ivLength = Int(blob[at])
        at += 1
        guard ivSizes.contains(ivLength), blob.count >= at + ivLength + 16 + 1 else { throw bad }
        let iv = Array(blob[at..<(at + ivLength)])
        at += ivLength
        let tag = Array(blob[at..<(at + 16)])
        at += 16
        let metadataLength = Int(blob[at])
        at += 1
        guard metadataLength <= 20, blob.count > at + metadataLength else { throw bad }
        let metadata = Array(blob[at..<(at + metadataLength)])
        at += metadataLength
        let header = SymmetricCiphertext.Header(
            keyID: KeyID(bytes: blob[1..<17]), materialID: try MaterialID(bytes: blob[17..<(1 + idsLength)]))
        return Parts(
            header: header, initializationVector: iv, authenticationTag: tag, ciphertextMetadata: metadata,
            ciphertext: Array(blob[at...]))
    }

    /// The outer layer's AAD (the XKS request's additionalAuthenticatedData): SHA-256 over a
    /// domain, the key and material ids, the KMS key's ARN and the canonical encryption context,
    /// so that the proxy's layer is bound to the key and the context as the inner one is.
    public static func outerAAD(header: SymmetricCiphertext.Header, keyARN: String, context: [String: String])
        throws(KMSError) -> [UInt8]
    {
        var hash = SHA256()
        hash.update(data: domain)
        hash.update(data: header.keyID.bytes)
        hash.update(data: header.materialID.bytes)
        let arn = Array(keyARN.utf8)
        hash.update(data: [UInt8(arn.count >> 8), UInt8(arn.count & 0xff)])
        hash.update(data: arn)
        hash.update(data: try EncryptionContextEncoding.canonicalBytes(context))
        return Array(hash.finalize())
    }
}
