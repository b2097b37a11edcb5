import Crypto
import Foundation

/// Reads the body and footer of one message whose header has been read, pure and incremental:
/// it returns the plaintext of each frame whose tag verifies. In a signed suite that plaintext
/// is not yet trustworthy: only `finish` verifies the signature, so the caller holds it until
/// then (`EnvelopeEncryption` does).
struct MessageDecryptor {
    let header: MessageHeader
    private let key: GCMKey
    private let verificationKey: MessageVerificationKey?
    private var digest: MessageDigest?
    private var buffer: [UInt8] = []
    private var nextSequenceNumber: UInt32 = 1
    private var state: State
    /// The longest single block (non-framed content) read, since it is held whole.
    private let maxSingleBlockLength: Int

    private enum State { case frames, singleBlock, footer, done }

    /// Checks the key commitment and the header's tag with the data key (and `requiredContext`,
    /// the serialized pairs the message requires but does not store), and takes the signed
    /// suites' public key from the encryption context.
    init(
        header: MessageHeader, dataKey: SymmetricKey, maxSingleBlockLength: Int, requiredContext: [UInt8] = []
    ) throws(EnvelopeError) {
        self.state = header.framed ? .frames : .singleBlock
        self.maxSingleBlockLength = maxSingleBlockLength
        guard dataKey.bitCount == header.suite.dataKeyLength * 8 else {
            throw .noDecryptableDataKey("the keyring returned a data key of the wrong length")
        }
        let (key, commitment) = header.suite.deriveKeys(dataKey: dataKey, messageID: header.messageID)
        if let commitment {
            // Before anything is decrypted: a message that commits to another key is refused.
            guard Self.constantTimeEqual(commitment, header.commitment) else {
                throw .authenticationFailed("the key commitment does not match the data key")
            }
        }
        self.key = GCMKey(key: key)
        self.header = header
        try header.authenticate(with: self.key, requiredContext: requiredContext)
        if let signature = header.suite.signature {
            guard let encoded = header.encryptionContext[EncryptionContextCoding.publicKeyName],
                let publicKey = MessageVerificationKey(suite: header.suite, encoded: encoded)
            else {
                throw .malformedMessage("a signed message without a valid \(EncryptionContextCoding.publicKeyName)")
            }
            self.verificationKey = publicKey
            var digest = MessageDigest(signature)
            digest.update(data: header.serialized)
            self.digest = digest
        } else {
            self.verificationKey = nil
            self.digest = nil
        }
    }

    /// Takes more message bytes; returns the plaintext of the frames they complete.
    mutating func update(_ bytes: some Collection<UInt8>) throws(EnvelopeError) -> [UInt8] {
        self.buffer.append(contentsOf: bytes)
        var reader = ByteReader(self.buffer)
        var plaintext: [UInt8] = []
        var consumed = 0
        do {
            while self.state != .done {
                switch self.state {
                case .frames: plaintext += try self.readFrame(&reader)
                case .singleBlock: plaintext += try self.readSingleBlock(&reader)
                case .footer: try self.readFooter(&reader)
                case .done: break
                }
                consumed = reader.offset
            }
        } catch is ByteReader.NeedMore {
            // The rest comes with the next bytes.
        } catch let error as EnvelopeError {
            throw error
        } catch {
            throw .malformedMessage("\(error)")
        }
        guard self.state != .done || consumed == self.buffer.count else {
            throw .malformedMessage("bytes after the end of the message")
        }
        self.buffer.removeFirst(consumed)
        return plaintext
    }

    /// Fails unless the whole message, up to its signature, has been read and verified.
    func finish() throws(EnvelopeError) {
        guard self.state == .done else {
            throw .malformedMessage("the message is truncated")
        }
    }

    /// Compares without stopping at the first difference, so that timing tells nothing of the commitment.
    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Reads one whole frame or throws `NeedMore` having changed nothing, so that the next
    /// bytes read it again from its start.
    private mutating func readFrame(_ reader: inout ByteReader) throws -> [UInt8] {
        let start = reader.offset
        var number = try reader.readUInt32()
        let final = number == FrameCoding.finalFrameMarker
        if final { number = try reader.readUInt32() }
        guard number == self.nextSequenceNumber else {
            throw EnvelopeError.malformedMessage("frame \(number) where frame \(self.nextSequenceNumber) was due")
        }
        let iv = Array(try reader.read(AlgorithmSuite.ivLength))
        guard iv == FrameCoding.iv(number) else {
            throw EnvelopeError.malformedMessage("frame \(number)'s IV is not its sequence number")
        }
        let length = final ? Int(try reader.readUInt32()) : Int(self.header.frameLength)
        guard length <= Int(self.header.frameLength) else {
            throw EnvelopeError.malformedMessage("the final frame is longer than the frame length")
        }
        let ciphertext = try reader.read(length)
        let tag = try reader.read(AlgorithmSuite.tagLength)
        let aad = FrameCoding.aad(
            messageID: self.header.messageID, final: final, sequenceNumber: number, length: length)
        let plaintext = try self.key.open(
            ciphertext: ciphertext, tag: tag, iv: iv, aad: aad, failure: "frame \(number)'s tag does not verify")
        self.nextSequenceNumber &+= 1
        self.digest?.update(data: reader.bytes[start..<reader.offset])
        if final { self.state = self.verificationKey != nil ? .footer : .done }
        return plaintext
    }

    /// Non-framed content: IV, an 8-byte length, the ciphertext and its tag, with sequence number 1.
    private mutating func readSingleBlock(_ reader: inout ByteReader) throws -> [UInt8] {
        let start = reader.offset
        let iv = Array(try reader.read(AlgorithmSuite.ivLength))
        let length = try reader.readUInt64()
        guard length <= UInt64(self.maxSingleBlockLength) else {
            throw EnvelopeError.unsupported(
                "non-framed content of \(length) bytes, above the limit of \(self.maxSingleBlockLength)")
        }
        let ciphertext = try reader.read(Int(length))
        let tag = try reader.read(AlgorithmSuite.tagLength)
        let aad = FrameCoding.aad(
            messageID: self.header.messageID, kind: FrameCoding.singleBlockAAD, sequenceNumber: 1, length: Int(length))
        let plaintext = try self.key.open(
            ciphertext: ciphertext, tag: tag, iv: iv, aad: aad, failure: "the body's tag does not verify")
        self.digest?.update(data: reader.bytes[start..<reader.offset])
        self.state = self.verificationKey != nil ? .footer : .done
        return plaintext
    }

    private mutating func readFooter(_ reader: inout ByteReader) throws {
        let signature = try reader.readShortPrefixed()
        guard let verificationKey, let digest, verificationKey.verifies(signature, digest) else {
            throw EnvelopeError.authenticationFailed("the message's signature does not verify")
        }
        self.state = .done
    }
}
