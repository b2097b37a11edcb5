extension MessageHeader {
    /// Reads a header, with its authentication, from the start of `bytes`: nil when `bytes` ends
    /// inside it (a stream then waits for more); the header and its length in bytes otherwise.
    /// The encrypted data key count is checked against `maxEncryptedDataKeys` as soon as it is
    /// read, so that no more of a hostile header is processed.
    static func parse(_ bytes: [UInt8], maxEncryptedDataKeys: Int?) throws(EnvelopeError) -> (MessageHeader, Int)? {
        var reader = ByteReader(bytes)
        do {
            return try Self.read(&reader, maxEncryptedDataKeys: maxEncryptedDataKeys)
        } catch is ByteReader.NeedMore {
            return nil
        } catch let error as EnvelopeError {
            throw error
        } catch {
            throw .malformedMessage("\(error)")
        }
    }

    private static func read(_ reader: inout ByteReader, maxEncryptedDataKeys: Int?) throws -> (MessageHeader, Int) {
        let version = try reader.readUInt8()
        guard version == 1 || version == 2 else {
            throw EnvelopeError.unsupported("message format version \(version) (0x01 and 0x02 are read)")
        }
        if version == 1 {
            let type = try reader.readUInt8()
            guard type == Self.version1Type else { throw EnvelopeError.malformedMessage("message type \(type)") }
        }
        let suiteID = try reader.readUInt16()
        guard let suite = AlgorithmSuite(rawValue: suiteID) else {
            throw EnvelopeError.unsupported("algorithm suite 0x\(String(suiteID, radix: 16))")
        }
        guard suite.messageFormatVersion == version else {
            throw EnvelopeError.malformedMessage("suite \(suite) in a version \(version) header")
        }
        let messageID = Array(try reader.read(suite.messageIDLength))
        let context = try EncryptionContextCoding.parse(try reader.readShortPrefixed())
        let keyCount = Int(try reader.readUInt16())
        guard keyCount > 0 else { throw EnvelopeError.malformedMessage("no encrypted data key") }
        if let maxEncryptedDataKeys, keyCount > maxEncryptedDataKeys {
            throw EnvelopeError.tooManyEncryptedDataKeys(count: keyCount, maximum: maxEncryptedDataKeys)
        }
        var keys: [EncryptedDataKey] = []
        for _ in 0..<keyCount {
            guard let provider = String(validating: try reader.readShortPrefixed(), as: UTF8.self) else {
                throw EnvelopeError.malformedMessage("a key provider id is not UTF-8")
            }
            let info = try reader.readShortPrefixed()
            keys.append(
                EncryptedDataKey(providerID: provider, providerInfo: info, ciphertext: try reader.readShortPrefixed()))
        }
        let contentType = try reader.readUInt8()
        guard contentType == Self.contentTypeFramed || contentType == Self.contentTypeNonFramed else {
            throw EnvelopeError.malformedMessage("content type \(contentType)")
        }
        let framed = contentType == Self.contentTypeFramed
        if version == 1 {
            guard try reader.readUInt32() == 0 else {
                throw EnvelopeError.malformedMessage("reserved bytes are not zero")
            }
            let ivLength = try reader.readUInt8()
            guard ivLength == AlgorithmSuite.ivLength else {
                throw EnvelopeError.malformedMessage("IV length \(ivLength), not \(AlgorithmSuite.ivLength)")
            }
        }
        let frameLength = try reader.readUInt32()
        guard (frameLength > 0) == framed else {
            throw EnvelopeError.malformedMessage(
                framed ? "a frame length of 0 in framed content" : "a frame length in non-framed content")
        }
        let commitment = version == 2 ? Array(try reader.read(AlgorithmSuite.commitmentLength)) : []
        let bodyEnd = reader.offset
        let iv = version == 1 ? Array(try reader.read(AlgorithmSuite.ivLength)) : [UInt8](repeating: 0, count: 12)
        let tag = Array(try reader.read(AlgorithmSuite.tagLength))
        let header = MessageHeader(
            version: version, suite: suite, messageID: messageID, encryptionContext: context,
            encryptedDataKeys: keys, framed: framed, frameLength: frameLength, commitment: commitment,
            body: Array(reader.bytes[0..<bodyEnd]), authenticationIV: iv, authenticationTag: tag)
        return (header, reader.offset)
    }
}
