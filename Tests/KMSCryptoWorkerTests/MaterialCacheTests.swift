import Crypto
import Testing

@testable import KMSCryptoWorker

@Suite struct MaterialCacheTests {
    static func key(_ n: Int) -> MaterialCache<SymmetricKey>.Key {
        MaterialCache<SymmetricKey>.Key(keyARN: "arn:aws:kms:us-east-1:111122223333:key/\(n)", materialID: [UInt8(n)])
    }

    @Test func evictsTheLeastRecentlyUsed() {
        let cache = MaterialCache<SymmetricKey>(capacity: 3)
        let materials = (0..<5).map { _ in SymmetricKey(size: .bits256) }
        for n in 0..<3 { cache.put(Self.key(n), materials[n]) }
        #expect(cache.get(Self.key(0)) == materials[0])  // 0 becomes most recent
        cache.put(Self.key(3), materials[3])  // evicts 1
        #expect(cache.get(Self.key(1)) == nil)
        #expect(cache.get(Self.key(0)) == materials[0])
        #expect(cache.get(Self.key(2)) == materials[2])
        cache.put(Self.key(4), materials[4])  // evicts 3
        #expect(cache.get(Self.key(3)) == nil)
        #expect(cache.count == 3)
    }

    @Test func aZeroCapacityCacheHoldsNothing() {
        let cache = MaterialCache<SymmetricKey>(capacity: 0)
        cache.put(Self.key(1), SymmetricKey(size: .bits256))
        #expect(cache.get(Self.key(1)) == nil)
    }

    @Test func staysBoundedUnderChurn() {
        let cache = MaterialCache<SymmetricKey>(capacity: 64)
        for n in 0..<10_000 {
            cache.put(Self.key(n % 200), SymmetricKey(size: .bits256))
            _ = cache.get(Self.key((n * 7) % 200))
        }
        #expect(cache.count == 64)
    }
}
