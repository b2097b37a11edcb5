import Crypto
import Foundation
import Testing

@testable import KMSEnvelope

/// The message format without a KMS: round trips for every suite and the frame edge cases,
/// the header's fields where the specification puts them, and the limits.
@Suite struct MessageFormatTests {
    static let frame = 16
    /// Empty, one byte, one short of a frame, exactly one frame, one byte over, several frames.
    static let lengths = [0, 1, frame - 1, frame, frame + 1, 3 * frame, 3 * frame + 5]

    @Test(arguments: AlgorithmSuite.allCases)
    func roundTripsAtTheFrameEdges(_ suite: AlgorithmSuite) async throws {
        let keyring = MemoryKeyring()
        let envelope = envelope(keyring, suite: suite, frameLength: Self.frame)
        for length in Self.lengths {
            let plaintext = randomBytes(length)
            let message = try await envelope.encrypt(plaintext, encryptionContext: ["purpose": "test"])
            let decrypted = try await envelope.decrypt(message)
            #expect(decrypted.plaintext == plaintext, "\(suite), \(length) bytes")
            #expect(decrypted.header.suite == suite)
            #expect(decrypted.header.encryptionContext["purpose"] == "test")
            #expect((decrypted.header.encryptionContext["aws-crypto-public-key"] != nil) == suite.isSigned)
            #expect(try Self.frames(message) == Self.expectedFrames(length), "\(suite), \(length) bytes")
        }
    }

    /// The body's frames as "regular N" / "final N" (content length): the last full frame of an
    /// input that is a multiple of the frame length is the final frame, and an empty input has
    /// one empty final frame.
    static func expectedFrames(_ length: Int) -> [String] {
        let regular = length == 0 ? 0 : (length - 1) / Self.frame
        return Array(repeating: "regular \(Self.frame)", count: regular) + ["final \(length - regular * Self.frame)"]
    }

    static func frames(_ message: [UInt8]) throws -> [String] {
        let (header, headerLength) = try #require(try MessageHeader.parse(message, maxEncryptedDataKeys: nil))
        var reader = ByteReader(message, offset: headerLength)
        var frames: [String] = []
        while true {
            let number = try reader.readUInt32()
            if number == FrameCoding.finalFrameMarker {
                _ = try reader.readUInt32()
                _ = try reader.read(12)
                let length = Int(try reader.readUInt32())
                _ = try reader.read(length + 16)
                frames.append("final \(length)")
                break
            }
            _ = try reader.read(12 + Int(header.frameLength) + 16)
            frames.append("regular \(header.frameLength)")
        }
        if header.suite.isSigned { _ = try reader.readShortPrefixed() }
        #expect(reader.remaining == 0)
        return frames
    }

    @Test func theVersion2HeaderHasEveryFieldWhereTheSpecificationPutsIt() async throws {
        let keyring = MemoryKeyring(keys: 2)
        let envelope = envelope(keyring, suite: .aes256GCMHKDFSHA512CommitKey, frameLength: 4096)
        let message = try await envelope.encrypt([1, 2, 3], encryptionContext: ["b": "2", "a": "1"])
        var reader = ByteReader(message)
        #expect(try reader.readUInt8() == 0x02)
        #expect(try reader.readUInt16() == 0x0478)
        let messageID = Array(try reader.read(32))
        let aad = try reader.readShortPrefixed()
        // Count, then the pairs sorted by key.
        #expect(aad == [0, 2, 0, 1, 0x61, 0, 1, 0x31, 0, 1, 0x62, 0, 1, 0x32])
        #expect(try reader.readUInt16() == 2)
        for index in 0..<2 {
            #expect(try reader.readShortPrefixed() == Array("memory".utf8))
            #expect(try reader.readShortPrefixed() == Array("key-\(index)".utf8))
            _ = try reader.readShortPrefixed()
        }
        #expect(try reader.readUInt8() == 0x02)
        #expect(try reader.readUInt32() == 4096)
        let commitment = Array(try reader.read(32))
        let bodyLength = reader.offset
        let tag = Array(try reader.read(16))
        // The data key, recovered, derives the commitment and the header tag as the specification says.
        let header = try #require(try MessageHeader.parse(message, maxEncryptedDataKeys: nil)).0
        let dataKey = try await keyring.decryptDataKey(
            suite: header.suite, encryptionContext: header.encryptionContext,
            encryptedDataKeys: header.encryptedDataKeys)
        let prk = HKDF<SHA512>.extract(inputKeyMaterial: dataKey, salt: messageID)
        let expectedCommitment = HKDF<SHA512>.expand(
            pseudoRandomKey: prk, info: Array("COMMITKEY".utf8), outputByteCount: 32)
        #expect(commitment == expectedCommitment.withUnsafeBytes { Array($0) })
        let encryptionKey = HKDF<SHA512>.expand(
            pseudoRandomKey: prk, info: [0x04, 0x78] + Array("DERIVEKEY".utf8), outputByteCount: 32)
        let box = try AES.GCM.seal(
            [UInt8](), using: encryptionKey, nonce: try AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12)),
            authenticating: message[..<bodyLength])
        #expect(Array(box.tag) == tag)
        // The first frame is the final one: marker, sequence number 1, IV = sequence number.
        #expect(try reader.readUInt32() == 0xFFFF_FFFF)
        #expect(try reader.readUInt32() == 1)
        #expect(Array(try reader.read(12)) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(try reader.readUInt32() == 3)
    }

    @Test func anEmptyContextIsAZeroLengthAAD() async throws {
        let message = try await envelope(MemoryKeyring(), suite: .aes256GCMHKDFSHA512CommitKey).encrypt([])
        #expect(message[35..<37] == [0, 0])
        #expect(message[37..<39] == [0, 1])
    }

    @Test func theSignedSuitesPutTheCompressedPublicKeyInTheContextAndSignInTheFooter() async throws {
        for suite in [AlgorithmSuite.aes256GCMHKDFSHA512CommitKeyECDSAP384, .aes256GCMIV12Tag16HKDFSHA384ECDSAP384] {
            let message = try await envelope(MemoryKeyring(), suite: suite).encrypt(Array("signed".utf8))
            let header = try #require(try MessageHeader.parse(message, maxEncryptedDataKeys: nil)).0
            let encoded = try #require(header.encryptionContext["aws-crypto-public-key"])
            let point = try #require(Data(base64Encoded: encoded))
            #expect(point.count == 49)
            let publicKey = try P384.Signing.PublicKey(compressedRepresentation: point)
            // The footer is the last field: its length, then a DER signature over everything before it.
            for length in 64...110 where message.count > length + 2 {
                let start = message.count - length
                guard Int(message[start - 2]) << 8 | Int(message[start - 1]) == length else { continue }
                let signature = try P384.Signing.ECDSASignature(derRepresentation: message[start...])
                #expect(publicKey.isValidSignature(signature, for: SHA384.hash(data: message[..<(start - 2)])))
                return
            }
            Issue.record("no footer found for \(suite)")
        }
    }

    @Test func version1HeadersCarryTheTypeReservedBytesAndIVLength() async throws {
        let message = try await envelope(MemoryKeyring(), suite: .aes256GCMIV12Tag16HKDFSHA256).encrypt([9])
        #expect(message[0] == 0x01)
        #expect(message[1] == 0x80)
        #expect(message[2..<4] == [0x01, 0x78])
        let (header, length) = try #require(try MessageHeader.parse(message, maxEncryptedDataKeys: nil))
        #expect(header.messageID.count == 16)
        // Content type, reserved, IV length, frame length, then the header IV (zero) and tag.
        let tail = Array(message[length - 28 - 10..<length - 28])
        #expect(tail == [0x02, 0, 0, 0, 0, 12, 0, 0, 0, 16])
        #expect(message[length - 28..<length - 16] == ArraySlice(repeating: 0, count: 12))
    }

    @Test func theCommitmentPolicyDecidesWhichSuitesEncryptAndDecrypt() async throws {
        let keyring = MemoryKeyring()
        let legacy = try await envelope(keyring, suite: .aes256GCMIV12Tag16HKDFSHA384ECDSAP384).encrypt([1])
        let strict = envelope(keyring)
        await #expect(throws: EnvelopeError.self) { try await strict.decrypt(legacy) }
        let allowing = envelope(keyring) { $0.commitmentPolicy = .requireEncryptAllowDecrypt }
        #expect(try await allowing.decrypt(legacy).plaintext == [1])
        let refusing = envelope(keyring, suite: .aes256GCMIV12Tag16HKDFSHA256) {
            $0.commitmentPolicy = .requireEncryptAllowDecrypt
        }
        await #expect(throws: EnvelopeError.self) { try await refusing.encrypt([1]) }
    }

    @Test func theEncryptedDataKeyLimitHoldsOnEncryptAndBeforeAnyKeyIsDecrypted() async throws {
        let keyring = MemoryKeyring(keys: 3)
        let limited = envelope(keyring) { $0.maxEncryptedDataKeys = 2 }
        await #expect(throws: EnvelopeError.tooManyEncryptedDataKeys(count: 3, maximum: 2)) {
            try await limited.encrypt([1])
        }
        let message = try await envelope(keyring).encrypt([1])
        await #expect(throws: EnvelopeError.tooManyEncryptedDataKeys(count: 3, maximum: 2)) {
            try await limited.decrypt(message)
        }
        #expect(keyring.decryptCalls.withLock { $0 } == 0)
        #expect(try await envelope(keyring) { $0.maxEncryptedDataKeys = 3 }.decrypt(message).plaintext == [1])
    }

    @Test func reservedContextKeysAndAContextTooLongAreRefused() async throws {
        let envelope = envelope(MemoryKeyring())
        await #expect(throws: EnvelopeError.self) {
            try await envelope.encrypt([1], encryptionContext: ["aws-crypto-public-key": "x"])
        }
        await #expect(throws: EnvelopeError.self) {
            try await envelope.encrypt([1], encryptionContext: ["big": String(repeating: "x", count: 70_000)])
        }
        await #expect(throws: EnvelopeError.self) {
            try await envelope.decrypt([1], requiredEncryptionContext: [:])
        }
    }

    @Test func aRequiredContextPairMustBeInTheMessage() async throws {
        let envelope = envelope(MemoryKeyring())
        let message = try await envelope.encrypt([1], encryptionContext: ["tenant": "a"])
        #expect(try await envelope.decrypt(message, requiredEncryptionContext: ["tenant": "a"]).plaintext == [1])
        await #expect(throws: EnvelopeError.self) {
            try await envelope.decrypt(message, requiredEncryptionContext: ["tenant": "b"])
        }
    }

    @Test func aKeyTheMessageDidNotCommitToIsRefused() async throws {
        let message = try await envelope(MemoryKeyring()).encrypt([1, 2, 3])
        let other = envelope(MemoryKeyring(substitute: SymmetricKey(size: .bits256)))
        await #expect(throws: EnvelopeError.authenticationFailed("the key commitment does not match the data key")) {
            try await other.decrypt(message)
        }
    }

    @Test func theContentTypeAndFrameLengthAgree() async throws {
        let message = try await envelope(MemoryKeyring(), suite: .aes256GCMHKDFSHA512CommitKey).encrypt([1])
        let (_, length) = try #require(try MessageHeader.parse(message, maxEncryptedDataKeys: nil))
        // Content type, frame length, commitment, tag: the last 53 bytes of a version 2 header.
        let contentType = length - 53
        #expect(message[contentType] == 0x02)
        var nonFramed = message
        nonFramed[contentType] = 0x01
        #expect(throws: EnvelopeError.malformedMessage("a frame length in non-framed content")) {
            try MessageHeader.parse(nonFramed, maxEncryptedDataKeys: nil)
        }
        nonFramed.replaceSubrange(contentType + 1..<contentType + 5, with: [0, 0, 0, 0])
        #expect(try MessageHeader.parse(nonFramed, maxEncryptedDataKeys: nil)?.0.framed == false)
        var framedWithoutLength = message
        framedWithoutLength.replaceSubrange(contentType + 1..<contentType + 5, with: [0, 0, 0, 0])
        #expect(throws: EnvelopeError.malformedMessage("a frame length of 0 in framed content")) {
            try MessageHeader.parse(framedWithoutLength, maxEncryptedDataKeys: nil)
        }
        for type: UInt8 in [0x00, 0x03] {
            var unknown = message
            unknown[contentType] = type
            #expect(throws: EnvelopeError.self) { try MessageHeader.parse(unknown, maxEncryptedDataKeys: nil) }
        }
    }

    @Test func frameLengthsOutOfRangeAreRefused() async throws {
        await #expect(throws: EnvelopeError.self) { try await envelope(MemoryKeyring(), frameLength: 0).encrypt([1]) }
        let keyring = MemoryKeyring()
        let message = try await envelope(keyring, frameLength: 1 << 20).encrypt([1])
        await #expect(throws: EnvelopeError.self) {
            try await envelope(keyring) { $0.maxFrameLength = 1 << 19 }.decrypt(message)
        }
    }
}
