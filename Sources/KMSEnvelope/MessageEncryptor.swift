import Crypto

/// Writes one message, pure and incremental: the header first, then a regular frame for every
/// `frameLength` plaintext bytes, then the final frame and, in a signed suite, the footer.
/// It holds back up to one frame of plaintext, because the last full frame of an input whose
/// length is a multiple of the frame length is written as the final frame (as the SDKs do).
struct MessageEncryptor {
    let header: MessageHeader
    private let key: GCMKey
    private let signingKey: MessageSigningKey?
    private let frameLength: Int
    private var digest: MessageDigest?
    private var pending: [UInt8] = []
    private var sequenceNumber: UInt32 = 1
    private var headerWritten = false

    /// `encryptionContext` already holds the public key of `signingKey` for a signed suite; the
    /// pairs of `requiredEncryptionContextKeys` are authenticated by the header but not stored in it.
    init(
        suite: AlgorithmSuite, dataKey: SymmetricKey, encryptedDataKeys: [EncryptedDataKey],
        encryptionContext: [String: String], signingKey: MessageSigningKey?, frameLength: Int,
        requiredEncryptionContextKeys: Set<String> = [], messageID: [UInt8]? = nil
    ) throws(EnvelopeError) {
        guard frameLength > 0, frameLength <= Int(UInt32.max) else {
            throw .invalidArgument("the frame length must be between 1 and \(UInt32.max)")
        }
        guard dataKey.bitCount == suite.dataKeyLength * 8 else {
            throw .invalidArgument("the data key of \(suite) must be \(suite.dataKeyLength) bytes")
        }
        guard suite.isSigned == (signingKey != nil) else {
            throw .invalidArgument("a signing key goes with a signed suite, and only with one")
        }
        let messageID =
            messageID
            ?? Array(SymmetricKey(size: .init(bitCount: suite.messageIDLength * 8)).withUnsafeBytes { Array($0) })
        let (key, commitment) = suite.deriveKeys(dataKey: dataKey, messageID: messageID)
        self.key = GCMKey(key: key)
        let required = encryptionContext.filter { requiredEncryptionContextKeys.contains($0.key) }
        self.header = try MessageHeader.make(
            suite: suite, messageID: messageID,
            encryptionContext: encryptionContext.filter { !requiredEncryptionContextKeys.contains($0.key) },
            encryptedDataKeys: encryptedDataKeys, frameLength: UInt32(frameLength), commitment: commitment,
            key: self.key, requiredContext: try EncryptionContextCoding.serialize(required))
        self.signingKey = signingKey
        self.digest = suite.signature.map(MessageDigest.init)
        self.frameLength = frameLength
    }

    /// Takes more plaintext; returns the message bytes it completes (the header on the first call).
    mutating func update(_ plaintext: some Collection<UInt8>) throws(EnvelopeError) -> [UInt8] {
        var output = self.takeHeader()
        self.pending.append(contentsOf: plaintext)
        var start = 0
        while self.pending.count - start > self.frameLength {
            output += try self.frame(self.pending[start..<start + self.frameLength], final: false)
            start += self.frameLength
        }
        self.pending.removeFirst(start)
        return self.sign(output)
    }

    /// Ends the message: the final frame (empty for an empty message) and the footer.
    mutating func finish() throws(EnvelopeError) -> [UInt8] {
        var output = self.takeHeader()
        output += try self.frame(self.pending[...], final: true)
        self.pending = []
        output = self.sign(output)
        if let signingKey, let digest {
            let signature: [UInt8]
            do {
                signature = try signingKey.sign(digest)
            } catch {
                throw .invalidArgument("ECDSA signing failed: \(error)")
            }
            var footer = ByteWriter()
            footer.appendShortPrefixed(signature)
            output += footer.bytes
        }
        return output
    }

    private mutating func takeHeader() -> [UInt8] {
        guard !self.headerWritten else { return [] }
        self.headerWritten = true
        return self.header.serialized
    }

    private mutating func sign(_ bytes: [UInt8]) -> [UInt8] {
        self.digest?.update(data: bytes)
        return bytes
    }

    private mutating func frame(_ plaintext: ArraySlice<UInt8>, final: Bool) throws(EnvelopeError) -> [UInt8] {
        // 2^32 - 1 frames at most: the last number is the final frame marker.
        guard final || self.sequenceNumber < FrameCoding.finalFrameMarker - 1 else {
            throw .invalidArgument("the plaintext needs more frames than a message holds; raise the frame length")
        }
        let iv = FrameCoding.iv(self.sequenceNumber)
        let aad = FrameCoding.aad(
            messageID: self.header.messageID, final: final, sequenceNumber: self.sequenceNumber,
            length: plaintext.count)
        let (ciphertext, tag) = try self.key.seal(plaintext, iv: iv, aad: aad)
        var writer = ByteWriter()
        if final { writer.append(FrameCoding.finalFrameMarker) }
        writer.append(self.sequenceNumber)
        writer.append(iv)
        if final { writer.append(UInt32(plaintext.count)) }
        writer.append(ciphertext)
        writer.append(tag)
        self.sequenceNumber += 1
        return writer.bytes
    }
}
