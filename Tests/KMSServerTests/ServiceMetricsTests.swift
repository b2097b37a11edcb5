import Foundation
import KMSDomain
import Logging
import MetricsTestKit
import Testing

@testable import KMSServer

/// Each part counts into the ServiceMetrics it was given, so a test reads what that part alone
/// counted, whatever else runs in the same process.
@Suite struct ServiceMetricsTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The id the cache and load tests use.
    static let k = KeyID("0000000b-0000-4000-8000-000000000000")!

    static func key(_ id: KeyID) -> CachedKey {
        CachedKey(
            record: KeyRecord(
                keyID: id, arn: "arn:aws:kms:us-east-1:111122223333:key/\(id)", account: "111122223333",
                region: "us-east-1",
                description: "", state: .enabled, usage: .encryptDecrypt, spec: .symmetricDefault, origin: .awsKMS,
                manager: .customer,
                creationDate: Date(timeIntervalSince1970: 0), deletionDate: nil, pendingWindowInDays: nil, policy: "",
                currentMaterialID: nil,
                version: 1
            ), materials: [])
    }

    @Test func theKeyCacheCountsItsOwnHitsAndMisses() throws {
        let metrics = TestMetrics()
        let cache = KeyCache(metrics: ServiceMetrics(factory: metrics))
        let other = KeyCache()
        cache.setListening(true)
        #expect(cache.key(Self.k) == nil)
        cache.store(Self.key(Self.k), loadedAt: cache.generation)
        #expect(cache.key(Self.k)?.record.keyID == Self.k)
        #expect(cache.key(Self.k) != nil)
        _ = other.key(Self.k)
        #expect(try metrics.expectCounter("kms_cache_lookups_total", [("result", "miss")]).totalValue == 1)
        #expect(try metrics.expectCounter("kms_cache_lookups_total", [("result", "hit")]).totalValue == 2)
    }

    @Test func aFailedDatabaseCallIsCountedAndLeavesNothingInFlight() async throws {
        struct Down: Error {}
        let metrics = TestMetrics()
        let service = ServiceMetrics(factory: metrics)
        await #expect(throws: KMSError.self) {
            try await storeCall(logger: Self.logger, metrics: service) { () async throws -> Int in throw Down() }
        }
        // A KMSError is the operation's answer (not found, a limit), not the database failing.
        await #expect(throws: KMSError.self) {
            try await storeCall(logger: Self.logger, metrics: service) { () async throws -> Int in
                throw KMSService.notFound("k")
            }
        }
        #expect(try await storeCall(logger: Self.logger, metrics: service) { 7 } == 7)
        #expect(try metrics.expectCounter("kms_database_call_failures_total").totalValue == 1)
        #expect(try metrics.expectTimer("kms_database_call_duration_seconds").values.count == 3)
        let inFlight = try metrics.expectGauge("kms_database_calls_in_flight")
        #expect(inFlight.values.map { Int($0) } == [1, 0, 1, 0, 1, 0])
    }

    @Test func requestsAreCountedByOperationAndResult() throws {
        let metrics = TestMetrics()
        let service = ServiceMetrics(factory: metrics)
        service.request("Encrypt", result: "ok", duration: .milliseconds(2))
        service.request("Encrypt", result: "ok", duration: .milliseconds(3))
        service.request("Encrypt", result: "AccessDeniedException", duration: .milliseconds(1))
        #expect(
            try metrics.expectCounter("kms_requests_total", [("operation", "Encrypt"), ("result", "ok")]).totalValue
                == 2)
        #expect(
            try metrics.expectCounter(
                "kms_requests_total", [("operation", "Encrypt"), ("result", "AccessDeniedException")]
            ).totalValue == 1)
        #expect(
            try metrics.expectTimer("kms_request_duration_seconds", [("operation", "Encrypt")]).values == [
                2_000_000, 3_000_000, 1_000_000,
            ])
    }
}
