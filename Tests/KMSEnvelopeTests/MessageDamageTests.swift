import Foundation
import KMSEnvelope
import Testing

/// Every kind of damage to a message is an error, never a crash, and in the signed suites never
/// any plaintext, whole or streamed.
@Suite struct MessageDamageTests {
    static func message(_ suite: AlgorithmSuite, _ keyring: MemoryKeyring) async throws -> (EnvelopeEncryption, [UInt8])
    {
        let reader = envelope(keyring, suite: suite, frameLength: 16) {
            $0.commitmentPolicy = .requireEncryptAllowDecrypt
        }
        let writer = envelope(keyring, suite: suite, frameLength: 16)
        return (reader, try await writer.encrypt(randomBytes(40), encryptionContext: ["purpose": "damage"]))
    }

    @Test(arguments: AlgorithmSuite.allCases)
    func everyFlippedByteIsAnError(_ suite: AlgorithmSuite) async throws {
        let keyring = MemoryKeyring()
        let (envelope, message) = try await Self.message(suite, keyring)
        for index in message.indices {
            var damaged = message
            damaged[index] ^= 0x01
            await #expect(throws: (any Error).self, "byte \(index) of \(message.count)") {
                try await envelope.decrypt(damaged)
            }
            if suite.isSigned {
                // Streamed in small chunks, not one byte of plaintext comes out before the error.
                var iterator = envelope.decrypt(Chunks(damaged, size: 7)).makeAsyncIterator()
                await #expect(throws: (any Error).self, "byte \(index), streamed") { _ = try await iterator.next() }
                // Asked again, the stream has ended: nothing is read past the damage.
                #expect(try await iterator.next() == nil)
            }
        }
    }

    @Test(arguments: AlgorithmSuite.allCases)
    func everyTruncationAndAppendedBytesAreErrors(_ suite: AlgorithmSuite) async throws {
        let keyring = MemoryKeyring()
        let (envelope, message) = try await Self.message(suite, keyring)
        for length in 0..<message.count {
            let cut = Array(message[..<length])
            await #expect(throws: (any Error).self, "cut at \(length)") { try await envelope.decrypt(cut) }
            await #expect(throws: (any Error).self, "cut at \(length), streamed") {
                let plaintext = try await envelope.decrypt(Chunks(cut, size: 5)).collect()
                Issue.record("\(plaintext.count) bytes from a message cut at \(length)")
            }
        }
        await #expect(throws: (any Error).self) { try await envelope.decrypt(message + [0]) }
        await #expect(throws: (any Error).self) { try await envelope.decrypt(Chunks(message + [0], size: 9)).collect() }
    }

    @Test func framesOutOfOrderOrRepeatedAreErrors() async throws {
        let keyring = MemoryKeyring()
        let (envelope, message) = try await Self.message(.aes256GCMHKDFSHA512CommitKey, keyring)
        let headerLength = message.count - 2 * (4 + 12 + 16 + 16) - (4 + 4 + 12 + 4 + 8 + 16)
        let frameSize = 4 + 12 + 16 + 16
        let first = Array(message[headerLength..<headerLength + frameSize])
        let second = Array(message[headerLength + frameSize..<headerLength + 2 * frameSize])
        let rest = Array(message[(headerLength + 2 * frameSize)...])
        let header = Array(message[..<headerLength])
        #expect(try await envelope.decrypt(header + first + second + rest).plaintext.count == 40)
        for body in [second + first + rest, first + first + second + rest, first + rest, rest] {
            await #expect(throws: EnvelopeError.self) { try await envelope.decrypt(header + body) }
        }
    }

    @Test func anotherMessagesEncryptedDataKeyIsNotDecrypted() async throws {
        let (envelope, message) = try await Self.message(.default, MemoryKeyring())
        let stranger = EnvelopeEncryption(keyring: MemoryKeyring(), configuration: envelope.configuration)
        await #expect(throws: EnvelopeError.self) { try await stranger.decrypt(message) }
    }
}
