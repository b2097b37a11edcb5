import Foundation
import KMSDomain
import KMSServer
import KMSStore
import Testing

/// `BillingStoring`'s contract: the keys billed (live, pending deletion, deleted since a date)
/// and the cache estimate over the audit log.
@Suite struct BillingContractTests {
    /// A billed key as both backends must give it; times in whole microseconds.
    struct Billed: Equatable, CustomStringConvertible {
        var arn: String
        var created: Int64
        var until: Int64?
        var deleted: Bool
        var rotations: [Int64]

        init(_ key: BilledKey) {
            (self.arn, self.created, self.deleted) = (key.arn, Fixture.micros(key.creationDate), key.deleted)
            self.until = key.billedUntil.map(Fixture.micros)
            self.rotations = key.rotationDates.map(Fixture.micros)
        }

        /// What `key` is billed as, given its deletion date's window (days), as stored.
        init(_ key: KeyRecord, window: Int? = nil, deleted: Bool = false, rotations: [Date] = []) {
            (self.arn, self.created, self.deleted) = (
                key.arn, Fixture.micros(Fixture.stored(key.creationDate)), deleted
            )
            self.until = window.map {
                Fixture.micros(Fixture.stored(key.deletionDate!).addingTimeInterval(-Double($0) * 86_400))
            }
            self.rotations = rotations.map { Fixture.micros(Fixture.stored($0)) }
        }

        var description: String { "\(self.arn) until \(self.until.map(String.init) ?? "-") deleted \(self.deleted)" }
    }

    @Test(arguments: StoreBackend.allCases)
    func liveKeysKeysPendingDeletionAndTombstonesAreBilled(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let now = Date()
            let live = Fixture.key()
            try await stores.keys.insert(live, material: Fixture.material(1), alias: nil, tags: [], audit: nil)
            let rotation = now.addingTimeInterval(-7200.000_000_3)
            _ = try #require(
                try await stores.rotations.rotate(
                    live, to: Fixture.material(2), kind: .onDemand, at: rotation, nextRotationDate: nil, audit: nil))

            var pending = Fixture.key()
            pending.state = .pendingDeletion
            pending.pendingWindowInDays = 7
            pending.deletionDate = now.addingTimeInterval(5 * 86_400 + 0.000_000_4)
            try await stores.keys.insert(pending, material: Fixture.material(3), alias: nil, tags: [], audit: nil)

            var doomed = Fixture.key()
            try await stores.keys.insert(doomed, material: Fixture.material(4), alias: nil, tags: [], audit: nil)
            let doomedRotation = now.addingTimeInterval(-3 * 86_400)
            doomed = try #require(
                try await stores.rotations.rotate(
                    doomed, to: Fixture.material(5), kind: .onDemand, at: doomedRotation, nextRotationDate: nil,
                    audit: nil))
            doomed.state = .pendingDeletion
            doomed.pendingWindowInDays = 7
            doomed.deletionDate = now.addingTimeInterval(-3600)
            _ = try #require(try await stores.keys.update(doomed, audit: nil))
            let elsewhere = Fixture.key(account: "444455556666")
            try await stores.keys.insert(elsewhere, material: Fixture.material(6), alias: nil, tags: [], audit: nil)
            #expect(try await stores.keys.reapDue(serviceNow: now).deletedKeys.map(\.arn) == [doomed.arn])

            let billed = try await stores.billing.keys(account: Fixture.account, from: now.addingTimeInterval(-86_400))
            let expected: [Billed] = [
                Billed(live, rotations: [rotation]), Billed(pending, window: 7),
                Billed(doomed, window: 7, deleted: true, rotations: [doomedRotation]),
            ]
            let found: [Billed] = billed.map(Billed.init)
            #expect(found.sorted { $0.arn < $1.arn } == expected.sorted { $0.arn < $1.arn })
            #expect(billed.allSatisfy { $0.spec == .symmetricDefault && $0.manager == .customer })
            // A tombstone deleted before `from` is no longer billed.
            let later = try await stores.billing.keys(account: Fixture.account, from: now.addingTimeInterval(60))
            #expect(later.map(\.arn).sorted() == [live.arn, pending.arn].sorted())
            #expect(try await stores.billing.keys(account: "999999999999", from: .distantPast).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func theCacheEstimateCountsSuccessfulDataKeyAndDecryptCallsOncePerPrincipalContextAndWindow(
        _ backend: StoreBackend
    ) async throws {
        try await backend.run { stores in
            typealias T = AuditContractTests
            let (a, b) = (T.keyA, T.keyB)
            let other = "arn:aws:kms:us-east-1:444455556666:key/cccccccc-0000-4000-8000-000000000003"
            let log = stores.writer("default", nil)
            let tenant = ["tenant": "a"]
            for entry in [
                T.entry("Decrypt", key: a, at: 0, context: tenant),
                T.entry("Decrypt", key: a, at: 1, context: tenant),  // the same cache entry
                T.entry("Decrypt", key: a, at: 2, context: ["tenant": "b"]),
                T.entry("Decrypt", key: a, by: T.bob, at: 3, context: tenant),
                T.entry("Decrypt", key: a, at: 70, context: tenant),  // the next window
                T.entry("Decrypt", key: a, at: 4, error: "AccessDeniedException"),
                T.entry("GenerateDataKey", key: a, at: 5),
                T.entry("GenerateDataKeyWithoutPlaintext", key: b, at: 6),
                T.entry("Encrypt", key: a, at: 7),
                T.entry("Decrypt", key: other, at: 8),
                T.entry("Decrypt", key: a, at: 600),  // after `to`
            ] {
                try await log.append(entry, pending: nil)
            }
            await log.close()
            let from = Fixture.created.addingTimeInterval(-1)
            let to = Fixture.created.addingTimeInterval(300)
            func estimate(_ key: String? = nil, cache: Int = 60) async throws -> [String] {
                try await stores.billing.cacheEstimate(
                    account: Fixture.account, keyARN: key, from: from, to: to, cacheSeconds: cache
                ).map { "\($0.keyARN.suffix(4)) \($0.operation) \($0.requests)/\($0.withCache)" }
            }
            #expect(
                try await estimate() == [
                    "0001 Decrypt 5/4", "0001 GenerateDataKey 1/1", "0002 GenerateDataKeyWithoutPlaintext 1/1",
                ])
            #expect(try await estimate(b) == ["0002 GenerateDataKeyWithoutPlaintext 1/1"])
            // A zero cache is one second: every call in its own second counts.
            #expect(try await estimate(a, cache: 0) == ["0001 Decrypt 5/5", "0001 GenerateDataKey 1/1"])
        }
    }
}
