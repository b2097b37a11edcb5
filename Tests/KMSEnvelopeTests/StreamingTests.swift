import Foundation
import KMSEnvelope
import Testing

/// Encrypt and decrypt over async sequences of chunks: any chunking gives the same message
/// contents, input is pulled only as output is asked for, and a signed message's plaintext is
/// held until its signature verifies, up to a bound.
@Suite struct StreamingTests {
    @Test(arguments: [AlgorithmSuite.aes256GCMHKDFSHA512CommitKey, .aes256GCMHKDFSHA512CommitKeyECDSAP384])
    func anyChunkingRoundTrips(_ suite: AlgorithmSuite) async throws {
        let envelope = envelope(MemoryKeyring(), suite: suite, frameLength: 64)
        for length in [0, 1, 63, 64, 65, 1000] {
            let plaintext = randomBytes(length)
            for size in [1, 7, 64, 4096] {
                let message = try await envelope.encrypt(Chunks(plaintext, size: size), encryptionContext: ["k": "v"])
                    .collect()
                #expect(try await envelope.decrypt(message).plaintext == plaintext)
                #expect(try await envelope.decrypt(Chunks(message, size: size)).collect() == plaintext)
            }
        }
    }

    @Test func theUnsignedSuiteReleasesFramesBeforeTheEndOfTheInput() async throws {
        let envelope = envelope(MemoryKeyring(), suite: .aes256GCMHKDFSHA512CommitKey, frameLength: 1024)
        let message = try await envelope.encrypt(randomBytes(100 * 1024))
        let input = Chunks(message, size: 512)
        var iterator = envelope.decrypt(input).makeAsyncIterator()
        let first = try #require(try await iterator.next())
        #expect(first.count == 1024)
        #expect(input.taken.count.withLock { $0 } < 10)
        // Encrypting pulls no more input than the output asked for needs.
        let plaintext = Chunks(randomBytes(100 * 1024), size: 512)
        var encrypting = envelope.encrypt(plaintext).makeAsyncIterator()
        _ = try await encrypting.next()
        #expect(plaintext.taken.count.withLock { $0 } < 10)
    }

    @Test func theSignedSuiteHoldsPlaintextUpToItsBound() async throws {
        let keyring = MemoryKeyring()
        let message = try await envelope(keyring, frameLength: 1024).encrypt(randomBytes(10_000))
        let bounded = envelope(keyring) { $0.maxSignedPlaintextLength = 8192 }
        await #expect(throws: EnvelopeError.signedPlaintextTooLarge(limit: 8192)) {
            _ = try await bounded.decrypt(Chunks(message, size: 1000)).collect()
        }
        let roomy = envelope(keyring) { $0.maxSignedPlaintextLength = 10_000 }
        var iterator = roomy.decrypt(Chunks(message, size: 1000)).makeAsyncIterator()
        #expect(try await iterator.next()?.count == 10_000)
        #expect(try await iterator.next() == nil)
        // The one-shot API has the message in memory already, and no bound.
        #expect(try await bounded.decrypt(message).plaintext.count == 10_000)
    }

    @Test func anOverlongHeaderIsRefusedInAStream() async throws {
        // A version 2 header whose encryption context says 65535 bytes follow, fed forever.
        let start: [UInt8] = [0x02, 0x05, 0x78] + [UInt8](repeating: 1, count: 32) + [0xFF, 0xFF]
        let envelope = envelope(MemoryKeyring()) { $0.maxHeaderLength = 1000 }
        await #expect(throws: EnvelopeError.self) {
            _ = try await envelope.decrypt(Chunks(start + randomBytes(5000), size: 100)).collect()
        }
    }
}
