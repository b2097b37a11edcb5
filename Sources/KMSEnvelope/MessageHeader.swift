/// One encrypted copy of a message's data key, and which key provider can decrypt it.
public struct EncryptedDataKey: Sendable, Hashable {
    /// "aws-kms" for a KMS key.
    public var providerID: String
    /// For "aws-kms", the ARN of the KMS key, in UTF-8.
    public var providerInfo: [UInt8]
    /// The data key as the provider encrypted it (a KMS ciphertext blob).
    public var ciphertext: [UInt8]

    /// An encrypted data key as a keyring made it or a header carries it.
    public init(providerID: String, providerInfo: [UInt8], ciphertext: [UInt8]) {
        self.providerID = providerID
        self.providerInfo = providerInfo
        self.ciphertext = ciphertext
    }
}

/// A message header (data-format/message-header.md), version 1 or 2, framed content, with its
/// authentication. `body` is the header body exactly as written or read: the tag covers it, and
/// a signature covers it with the tag.
public struct MessageHeader: Sendable {
    /// 1 or 2, as the suite implies.
    public let version: UInt8
    /// The algorithm suite of the message.
    public let suite: AlgorithmSuite
    /// 16 random bytes in version 1, 32 in version 2.
    public let messageID: [UInt8]
    /// The encryption context, the signed suites' public key among it.
    public let encryptionContext: [String: String]
    /// The data key encrypted under each key the message was encrypted for.
    public let encryptedDataKeys: [EncryptedDataKey]
    /// Whether the body is frames (what every SDK writes now) or one block (content type 1,
    /// which old SDKs wrote and this library reads).
    public let framed: Bool
    /// Plaintext bytes per frame; the final frame holds at most as many. 0 for one block.
    public let frameLength: UInt32
    /// Version 2: the commitment key (algorithm suite data).
    public let commitment: [UInt8]
    /// The header body's serialized bytes.
    let body: [UInt8]
    /// Header authentication: the IV (version 1 stores it; zero in version 2) and the GCM tag.
    let authenticationIV: [UInt8]
    let authenticationTag: [UInt8]

    static let contentTypeFramed: UInt8 = 0x02
    static let contentTypeNonFramed: UInt8 = 0x01
    static let version1Type: UInt8 = 0x80
    static let providerIDLimit = Int(UInt16.max)

    /// The header as it is written: body, then authentication.
    var serialized: [UInt8] {
        var bytes = self.body
        if self.version == 1 { bytes += self.authenticationIV }
        return bytes + self.authenticationTag
    }

    /// Builds and authenticates a header for a new message. `encryptionContext` is what the
    /// header stores; `requiredContext` (serialized) is authenticated by its tag without being stored.
    static func make(
        suite: AlgorithmSuite, messageID: [UInt8], encryptionContext: [String: String],
        encryptedDataKeys: [EncryptedDataKey], frameLength: UInt32, commitment: [UInt8]?, key: GCMKey,
        requiredContext: [UInt8] = []
    ) throws(EnvelopeError) -> MessageHeader {
        var writer = ByteWriter()
        writer.append(suite.messageFormatVersion)
        if suite.messageFormatVersion == 1 { writer.append(Self.version1Type) }
        writer.append(suite.rawValue)
        writer.append(messageID)
        let context = try EncryptionContextCoding.serialize(encryptionContext)
        writer.appendShortPrefixed(context)
        guard !encryptedDataKeys.isEmpty, encryptedDataKeys.count <= Int(UInt16.max) else {
            throw .invalidArgument("a message needs between 1 and \(UInt16.max) encrypted data keys")
        }
        writer.append(UInt16(encryptedDataKeys.count))
        for key in encryptedDataKeys {
            let fields = [Array(key.providerID.utf8), key.providerInfo, key.ciphertext]
            guard fields.allSatisfy({ $0.count <= Self.providerIDLimit }) else {
                throw .invalidArgument("an encrypted data key field is longer than \(UInt16.max) bytes")
            }
            for field in fields { writer.appendShortPrefixed(field) }
        }
        writer.append(Self.contentTypeFramed)
        if suite.messageFormatVersion == 1 {
            writer.append(UInt32(0))
            writer.append(UInt8(AlgorithmSuite.ivLength))
        }
        writer.append(frameLength)
        if let commitment { writer.append(commitment) }
        let iv = [UInt8](repeating: 0, count: AlgorithmSuite.ivLength)
        let tag = try key.seal([], iv: iv, aad: writer.bytes + requiredContext).tag
        return MessageHeader(
            version: suite.messageFormatVersion, suite: suite, messageID: messageID,
            encryptionContext: encryptionContext, encryptedDataKeys: encryptedDataKeys, framed: true,
            frameLength: frameLength,
            commitment: commitment ?? [], body: writer.bytes, authenticationIV: iv, authenticationTag: tag)
    }

    /// Checks the header's tag under the message's derived key, over the header body and the
    /// serialized encryption context the message requires but does not store (the SDKs'
    /// "encryption context to only authenticate"; empty for most messages).
    func authenticate(with key: GCMKey, requiredContext: [UInt8] = []) throws(EnvelopeError) {
        _ = try key.open(
            ciphertext: [], tag: self.authenticationTag[...], iv: self.authenticationIV,
            aad: self.body + requiredContext,
            failure: requiredContext.isEmpty
                ? "the header's authentication tag does not verify"
                : "the header's authentication tag does not verify with the reproduced encryption context's "
                    + "pairs that the header does not store: one of them is missing, has another value, or is "
                    + "not one the message requires")
    }
}
