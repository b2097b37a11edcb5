import Crypto
import Foundation
import Metrics
import Synchronization

/// A bounded cache of data keys, as the SDKs' caching materials manager keeps one, so that
/// messages encrypted with the same context reuse a data key (fewer GenerateDataKey calls) and
/// messages under one data key decrypt with one Decrypt. Off unless given to `EnvelopeEncryption`.
///
/// An encrypt entry serves at most `maxMessages` messages and `maxBytes` plaintext bytes, and no
/// entry is used after `maxAge`; past `maxEntries`, the least recently used entry goes. Only
/// encrypts of a known length use it (`encrypt(_:encryptionContext:)`, not the streaming form),
/// since the byte limit is checked before the message is written. Entries are kept apart by
/// the `EnvelopeEncryption` that made them: one keyring's keys never serve another's decrypts.
/// Lookups are counted in `statistics` and as the swift-metrics counter
/// `kms_envelope_data_key_cache_lookups_total` (dimensions `operation`: encrypt or decrypt,
/// `result`: hit or miss).
public final class DataKeyCache: Sendable {
    /// What bounds the cache.
    public struct Limits: Sendable {
        /// How long an entry is used after the data key was made or decrypted.
        public var maxAge: Duration
        /// Messages encrypted under one cached data key.
        public var maxMessages: Int
        /// Plaintext bytes encrypted under one cached data key.
        public var maxBytes: Int
        /// Entries kept, encrypt and decrypt together.
        public var maxEntries: Int

        /// Limits; the SDK's defaults for messages (2^32) and bytes (2^63 - 1) unless given.
        public init(maxAge: Duration, maxMessages: Int = 1 << 32, maxBytes: Int = .max, maxEntries: Int) {
            self.maxAge = maxAge
            self.maxMessages = maxMessages
            self.maxBytes = maxBytes
            self.maxEntries = maxEntries
        }
    }

    /// Counts since the cache was made: each hit is a KMS call saved.
    public struct Statistics: Sendable, Equatable {
        /// Encrypts served by a cached data key.
        public var encryptHits = 0
        /// Encrypts that made a new data key (the cache was used, but had none fit).
        public var encryptMisses = 0
        /// Decrypts served by a cached data key.
        public var decryptHits = 0
        /// Decrypts that asked the keyring.
        public var decryptMisses = 0

        /// Counts as given (zero unless given).
        public init(encryptHits: Int = 0, encryptMisses: Int = 0, decryptHits: Int = 0, decryptMisses: Int = 0) {
            self.encryptHits = encryptHits
            self.encryptMisses = encryptMisses
            self.decryptHits = decryptHits
            self.decryptMisses = decryptMisses
        }
    }

    /// The limits the cache was made with.
    public let limits: Limits
    private let state = Mutex(State())
    private let counters: (encryptHit: Counter, encryptMiss: Counter, decryptHit: Counter, decryptMiss: Counter)

    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        var clock: UInt64 = 0
        var statistics = Statistics()
    }

    private struct Entry {
        let value: Value
        let created: ContinuousClock.Instant
        var messages: Int
        var bytes: Int
        var lastUse: UInt64
    }

    enum Value {
        case encryption(PreparedEncryption)
        case decryption(SymmetricKey)
    }

    /// A cache within `limits` (which must be positive), counting into `metricsFactory`'s counters.
    public init(limits: Limits, metricsFactory: any MetricsFactory = MetricsSystem.factory) throws(EnvelopeError) {
        guard limits.maxAge > .zero, limits.maxMessages > 0, limits.maxBytes >= 0, limits.maxEntries > 0 else {
            throw .invalidArgument("a data key cache needs a positive age, message count and entry count")
        }
        self.limits = limits
        func counter(_ operation: String, _ result: String) -> Counter {
            Counter(
                label: "kms_envelope_data_key_cache_lookups_total",
                dimensions: [("operation", operation), ("result", result)], factory: metricsFactory)
        }
        self.counters = (
            counter("encrypt", "hit"), counter("encrypt", "miss"), counter("decrypt", "hit"), counter("decrypt", "miss")
        )
    }

    /// The counts so far.
    public var statistics: Statistics { self.state.withLock { $0.statistics } }

    /// A cached encryption's materials for one more message of `length` bytes, counted against
    /// the entry; nil (a miss) when none fits, and the used-up entry is dropped.
    func takeEncryption(_ key: [UInt8], length: Int) -> PreparedEncryption? {
        self.state.withLock { state in
            guard let entry = state.entries[key], case .encryption(let prepared) = entry.value,
                self.isFresh(entry), entry.messages < self.limits.maxMessages,
                entry.bytes <= self.limits.maxBytes - length
            else {
                state.entries[key] = nil
                state.statistics.encryptMisses += 1
                self.counters.encryptMiss.increment()
                return nil
            }
            state.clock += 1
            state.entries[key]?.messages += 1
            state.entries[key]?.bytes += length
            state.entries[key]?.lastUse = state.clock
            state.statistics.encryptHits += 1
            self.counters.encryptHit.increment()
            return prepared
        }
    }

    /// Keeps new encryption materials that served their first message of `length` bytes.
    func storeEncryption(_ key: [UInt8], _ prepared: PreparedEncryption, length: Int) {
        guard length <= self.limits.maxBytes else { return }
        self.store(key, Entry(value: .encryption(prepared), created: .now, messages: 1, bytes: length, lastUse: 0))
    }

    /// A data key decrypted before for the same suite, encrypted data keys and context.
    func takeDecryption(_ key: [UInt8]) -> SymmetricKey? {
        self.state.withLock { state in
            guard let entry = state.entries[key], case .decryption(let dataKey) = entry.value, self.isFresh(entry)
            else {
                state.entries[key] = nil
                state.statistics.decryptMisses += 1
                self.counters.decryptMiss.increment()
                return nil
            }
            state.clock += 1
            state.entries[key]?.lastUse = state.clock
            state.statistics.decryptHits += 1
            self.counters.decryptHit.increment()
            return dataKey
        }
    }

    func storeDecryption(_ key: [UInt8], _ dataKey: SymmetricKey) {
        self.store(key, Entry(value: .decryption(dataKey), created: .now, messages: 0, bytes: 0, lastUse: 0))
    }

    private func store(_ key: [UInt8], _ entry: Entry) {
        self.state.withLock { state in
            state.clock += 1
            var entry = entry
            entry.lastUse = state.clock
            state.entries[key] = entry
            // Evicting by a scan keeps the structure simple; caches are small (the SDK's default is tens).
            while state.entries.count > self.limits.maxEntries,
                let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
            {
                state.entries[oldest] = nil
            }
        }
    }

    private func isFresh(_ entry: Entry) -> Bool { ContinuousClock.now - entry.created < self.limits.maxAge }

    /// The entry key of an encryption: partition, suite and the caller's context.
    static func encryptionKey(partition: UUID, suite: AlgorithmSuite, context: [UInt8]) -> [UInt8] {
        var hash = SHA512()
        hash.update(data: Array("encrypt".utf8) + Self.bytes(partition))
        hash.update(data: [UInt8(suite.rawValue >> 8), UInt8(suite.rawValue & 0xFF)])
        hash.update(data: context)
        return Array(hash.finalize())
    }

    /// The entry key of a decryption: partition, suite, every encrypted data key and the context
    /// (the header's, with the reproduced pairs it does not store).
    static func decryptionKey(partition: UUID, header: MessageHeader, context: [String: String]) throws(EnvelopeError)
        -> [UInt8]
    {
        var hash = SHA512()
        hash.update(data: Array("decrypt".utf8) + Self.bytes(partition))
        hash.update(data: [UInt8(header.suite.rawValue >> 8), UInt8(header.suite.rawValue & 0xFF)])
        for key in header.encryptedDataKeys {
            var writer = ByteWriter()
            writer.append(UInt64(key.providerID.utf8.count))
            writer.append(Array(key.providerID.utf8))
            writer.append(UInt64(key.providerInfo.count))
            writer.append(key.providerInfo)
            writer.append(UInt64(key.ciphertext.count))
            writer.append(key.ciphertext)
            hash.update(data: writer.bytes)
        }
        hash.update(data: try EncryptionContextCoding.serialize(context))
        return Array(hash.finalize())
    }

    private static func bytes(_ uuid: UUID) -> [UInt8] { withUnsafeBytes(of: uuid.uuid) { Array($0) } }
}

/// What an encryption needs before its first byte: the signing key, the context with its public
/// key, and the data key with its encrypted copies. A cache hit reuses all of it.
struct PreparedEncryption: Sendable {
    let signingKey: MessageSigningKey?
    let context: [String: String]
    let materials: DataKeyMaterials
}
