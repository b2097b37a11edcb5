/// What frames share between writer and reader (data-format/message-body.md, message-body-aad.md).
enum FrameCoding {
    /// The sequence number field's value that marks the final frame.
    static let finalFrameMarker = UInt32.max
    static let regularFrameAAD = Array("AWSKMSEncryptionClient Frame".utf8)
    static let finalFrameAAD = Array("AWSKMSEncryptionClient Final Frame".utf8)
    static let singleBlockAAD = Array("AWSKMSEncryptionClient Single Block".utf8)

    /// The IV of frame `sequenceNumber`: the number, big-endian, padded to 12 bytes with zeros.
    static func iv(_ sequenceNumber: UInt32) -> [UInt8] {
        var writer = ByteWriter(bytes: [UInt8](repeating: 0, count: AlgorithmSuite.ivLength - 4))
        writer.append(sequenceNumber)
        return writer.bytes
    }

    /// The body AAD: message id, frame kind, sequence number, content length.
    static func aad(messageID: [UInt8], final: Bool, sequenceNumber: UInt32, length: Int) -> [UInt8] {
        Self.aad(
            messageID: messageID, kind: final ? Self.finalFrameAAD : Self.regularFrameAAD,
            sequenceNumber: sequenceNumber, length: length)
    }

    static func aad(messageID: [UInt8], kind: [UInt8], sequenceNumber: UInt32, length: Int) -> [UInt8] {
        var writer = ByteWriter(bytes: messageID)
        writer.append(kind)
        writer.append(sequenceNumber)
        writer.append(UInt64(length))
        return writer.bytes
    }
}
