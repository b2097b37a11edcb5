import KMSDomain
import Synchronization

/// Token buckets by name (a principal ARN, a source address): each name may make `rate`
/// requests a second on average and `burst` at once; past that it gets ThrottlingException
/// until its bucket refills. Memory is bounded: at `capacity` names, the buckets that have
/// refilled (idle names) are dropped, and if that frees nothing, all of them.
public final class RequestLimiter: Sendable {
    /// A bucket's refill rate and size.
    public struct Rate: Sendable, Hashable {
        /// Requests a second a name may make on average.
        public var perSecond: Double
        /// Requests a name may make at once; at least 1.
        public var burst: Double

        /// A rate; `burst` defaults to `perSecond`, and is at least 1.
        public init(perSecond: Double, burst: Double? = nil) {
            self.perSecond = perSecond
            self.burst = max(1, burst ?? perSecond)
        }
    }

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private final class Shard: Sendable {
        let buckets = Mutex<[String: Bucket]>([:])
    }

    /// Sharded so that concurrent requests of different callers rarely meet on one lock.
    private let shards: [Shard]
    private let rate: Rate
    private let capacityPerShard: Int

    /// A limiter giving every name `rate`, remembering at most about `capacity` names.
    public init(rate: Rate, capacity: Int = 100_000) {
        self.rate = rate
        self.shards = (0..<16).map { _ in Shard() }
        self.capacityPerShard = max(1, capacity / 16)
    }

    /// Takes a token for `name`; false when its bucket is empty.
    public func admit(_ name: String, now: ContinuousClock.Instant = .now) -> Bool {
        let shard = self.shards[Int(UInt(bitPattern: name.hashValue) % 16)]
        let rate = self.rate
        let capacity = self.capacityPerShard
        return shard.buckets.withLock { buckets in
            var bucket = buckets[name] ?? Bucket(tokens: rate.burst, updated: now)
            let elapsed = Self.seconds(now - bucket.updated)
            bucket.tokens = min(rate.burst, bucket.tokens + max(0, elapsed) * rate.perSecond)
            bucket.updated = now
            let admitted = bucket.tokens >= 1
            if admitted { bucket.tokens -= 1 }
            if buckets[name] == nil, buckets.count >= capacity {
                buckets = buckets.filter {
                    Self.seconds(now - $0.value.updated) * rate.perSecond + $0.value.tokens < rate.burst
                }
                if buckets.count >= capacity { buckets.removeAll(keepingCapacity: true) }
            }
            buckets[name] = bucket
            return admitted
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// kmsd's request limits: per calling principal and per source address, each off when nil.
public struct RequestLimits: Sendable {
    /// Buckets per calling principal ARN; nil: unlimited.
    public var perPrincipal: RequestLimiter?
    /// Buckets per source address, checked before authentication; nil: unlimited.
    public var perSource: RequestLimiter?

    /// Limits at these rates; nil leaves that limit off.
    public init(perPrincipal: RequestLimiter.Rate? = nil, perSource: RequestLimiter.Rate? = nil) {
        self.perPrincipal = perPrincipal.map { RequestLimiter(rate: $0) }
        self.perSource = perSource.map { RequestLimiter(rate: $0) }
    }
}

extension RequestLimits {
    /// Before the caller is known: the source address's bucket.
    func admit(source: String?) throws(KMSError) {
        if let limiter = self.perSource, let source, !limiter.admit(source) {
            throw KMSError(.throttling, "Rate exceeded: too many requests from \(source)", retryable: true)
        }
    }

    /// Once the caller is known: its principal's bucket.
    func admit(principal: String) throws(KMSError) {
        if let limiter = self.perPrincipal, !limiter.admit(principal) {
            throw KMSError(.throttling, "Rate exceeded", retryable: true)
        }
    }
}
