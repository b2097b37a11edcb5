import Foundation
import KMSEnvelope
import MetricsTestKit
import Testing

/// The data key cache: each limit ends an entry's use, contexts and keyrings stay apart, and
/// streaming encrypts (length unknown) never use it.
@Suite struct DataKeyCacheTests {
    static func cached(
        _ keyring: MemoryKeyring, _ limits: DataKeyCache.Limits, suite: AlgorithmSuite = .default,
        metrics: TestMetrics = TestMetrics()
    ) throws -> EnvelopeEncryption {
        var configuration = EnvelopeEncryption.Configuration()
        configuration.suite = suite
        return EnvelopeEncryption(
            keyring: keyring, configuration: configuration,
            cache: try DataKeyCache(limits: limits, metricsFactory: metrics))
    }

    @Test(arguments: [AlgorithmSuite.aes256GCMHKDFSHA512CommitKey, .aes256GCMHKDFSHA512CommitKeyECDSAP384])
    func aDataKeyServesAtMostMaxMessages(_ suite: AlgorithmSuite) async throws {
        let keyring = MemoryKeyring()
        let metrics = TestMetrics()
        let envelope = try Self.cached(
            keyring, .init(maxAge: .seconds(600), maxMessages: 10, maxEntries: 10), suite: suite, metrics: metrics)
        let messages = (0..<25).map { Array("message \($0)".utf8) }
        var ciphertexts: [[UInt8]] = []
        for message in messages {
            ciphertexts.append(try await envelope.encrypt(message, encryptionContext: ["batch": "1"]))
        }
        #expect(keyring.generateCalls.withLock { $0 } == 3)
        for (message, ciphertext) in zip(messages, ciphertexts) {
            #expect(try await envelope.decrypt(ciphertext).plaintext == message)
        }
        // One decrypt per distinct data key; the rest come from the cache.
        #expect(keyring.decryptCalls.withLock { $0 } == 3)
        let statistics = try #require(envelope.cache).statistics
        #expect(statistics == .init(encryptHits: 22, encryptMisses: 3, decryptHits: 22, decryptMisses: 3))
        for (operation, result, count) in [
            ("encrypt", "hit", 22), ("encrypt", "miss", 3), ("decrypt", "hit", 22), ("decrypt", "miss", 3),
        ] {
            let counter = try metrics.expectCounter(
                "kms_envelope_data_key_cache_lookups_total", [("operation", operation), ("result", result)])
            #expect(counter.totalValue == Int64(count), "\(operation) \(result)")
        }
    }

    @Test func aDataKeyServesAtMostMaxBytes() async throws {
        let keyring = MemoryKeyring()
        let envelope = try Self.cached(keyring, .init(maxAge: .seconds(600), maxBytes: 250, maxEntries: 10))
        for _ in 0..<6 { _ = try await envelope.encrypt(randomBytes(100)) }
        #expect(keyring.generateCalls.withLock { $0 } == 3)
        // A message larger than the limit is never cached.
        _ = try await envelope.encrypt(randomBytes(300))
        _ = try await envelope.encrypt(randomBytes(300))
        #expect(keyring.generateCalls.withLock { $0 } == 5)
    }

    @Test func anEntryExpiresAfterMaxAge() async throws {
        let keyring = MemoryKeyring()
        let envelope = try Self.cached(keyring, .init(maxAge: .milliseconds(100), maxEntries: 10))
        _ = try await envelope.encrypt([1])
        _ = try await envelope.encrypt([2])
        #expect(keyring.generateCalls.withLock { $0 } == 1)
        try await Task.sleep(for: .milliseconds(150))
        _ = try await envelope.encrypt([3])
        #expect(keyring.generateCalls.withLock { $0 } == 2)
    }

    @Test func theLeastRecentlyUsedEntryGoesPastMaxEntries() async throws {
        let keyring = MemoryKeyring()
        let envelope = try Self.cached(keyring, .init(maxAge: .seconds(600), maxEntries: 2))
        for context in ["a", "b", "a", "b"] { _ = try await envelope.encrypt([1], encryptionContext: ["c": context]) }
        #expect(keyring.generateCalls.withLock { $0 } == 2)
        for context in ["c", "a", "b"] { _ = try await envelope.encrypt([1], encryptionContext: ["c": context]) }
        // c pushed out a; a pushed out b; b was a miss again.
        #expect(keyring.generateCalls.withLock { $0 } == 5)
    }

    @Test func streamsKeyringsAndTheUncachedAskTheKeyringEachTime() async throws {
        let keyring = MemoryKeyring()
        let cache = try DataKeyCache(limits: .init(maxAge: .seconds(600), maxEntries: 10))
        let envelope = EnvelopeEncryption(keyring: keyring, cache: cache)
        for _ in 0..<3 { _ = try await envelope.encrypt(Chunks([1, 2, 3], size: 1)).collect() }
        #expect(keyring.generateCalls.withLock { $0 } == 3)
        _ = try await envelope.encrypt([1])
        // Another EnvelopeEncryption sharing the cache has entries of its own.
        let other = EnvelopeEncryption(keyring: keyring, cache: cache)
        _ = try await other.encrypt([1])
        #expect(keyring.generateCalls.withLock { $0 } == 5)
        let uncached = EnvelopeEncryption(keyring: keyring)
        for _ in 0..<2 { _ = try await uncached.encrypt([1]) }
        #expect(keyring.generateCalls.withLock { $0 } == 7)
        #expect(throws: EnvelopeError.self) { try DataKeyCache(limits: .init(maxAge: .zero, maxEntries: 1)) }
    }
}
