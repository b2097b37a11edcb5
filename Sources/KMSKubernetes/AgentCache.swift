import Crypto
import Foundation
import Synchronization

/// kms-agent's caches' bounds; each cache is off unless configured.
public struct AgentCacheSettings: Sendable {
    /// Decrypt answers, per (ciphertext, encryption context, key, algorithm, grant tokens).
    public var decryptMaxAge: Duration?
    /// At most this many Decrypt answers are kept (oldest dropped first).
    public var decryptMaxEntries = 1000
    /// GenerateDataKey answers reused, per (key, spec, context, grant tokens), for at most this long.
    public var dataKeyMaxAge: Duration?
    /// A data key is handed out at most this many times.
    public var dataKeyMaxMessages = 100
    /// And protects at most this many bytes in all, as callers declare them
    /// (`x-kms-agent-plaintext-bytes`); nil: no byte bound. A caller that does not declare is
    /// then never served a reused key.
    public var dataKeyMaxBytes: Int?
    /// At most this many data keys are kept.
    public var dataKeyMaxEntries = 100

    /// Both caches off.
    public init() {}
}

/// A bounded map from request digests to answers: entries older than `maxAge` are never
/// served; past `maxEntries` the oldest is dropped. Answers hold plaintext (a Decrypt's, a data
/// key's), so the bounds are what limits how long and how much of it the agent keeps.
final class AnswerCache<Value: Sendable>: Sendable {
    struct Entry {
        var value: Value
        var created: ContinuousClock.Instant
    }

    struct State {
        var entries: [SHA256Digest: Entry] = [:]
        /// Insertion order, for dropping the oldest; may name keys already gone.
        var order: [SHA256Digest] = []
        var orderStart = 0
    }

    let maxAge: Duration
    let maxEntries: Int
    private let state = Mutex(State())

    init(maxAge: Duration, maxEntries: Int) {
        self.maxAge = maxAge
        self.maxEntries = max(1, maxEntries)
    }

    var count: Int { self.state.withLock { $0.entries.count } }

    /// The entry's value, if young enough, after `use` has looked at it (and may refuse it,
    /// returning nil, which drops it); `use` runs under the cache's lock.
    func value(for key: SHA256Digest, use: (inout Value) -> Bool = { _ in true }) -> Value? {
        let now = ContinuousClock.now
        return self.state.withLock { state -> Value? in
            guard var entry = state.entries[key] else { return nil }
            guard now - entry.created < self.maxAge, use(&entry.value) else {
                state.entries[key] = nil
                return nil
            }
            state.entries[key] = entry
            return entry.value
        }
    }

    func insert(_ value: Value, for key: SHA256Digest) {
        let now = ContinuousClock.now
        self.state.withLock { state in
            if state.entries.updateValue(Entry(value: value, created: now), forKey: key) == nil {
                state.order.append(key)
            }
            while state.entries.count > self.maxEntries, state.orderStart < state.order.count {
                state.entries[state.order[state.orderStart]] = nil
                state.orderStart += 1
            }
            // Keep the order list from growing with keys long gone.
            if state.orderStart > 1024, state.orderStart * 2 > state.order.count {
                state.order.removeFirst(state.orderStart)
                state.orderStart = 0
            }
        }
    }

    func removeAll() {
        self.state.withLock { $0 = State() }
    }
}

/// Counts of the caches' hits and misses, for /metrics.
final class AgentCacheCounters: Sendable {
    let decryptHits = Atomic<Int>(0)
    let decryptMisses = Atomic<Int>(0)
    let dataKeyHits = Atomic<Int>(0)
    let dataKeyMisses = Atomic<Int>(0)
    let forwarded = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
}
