import Foundation
import KMSDomain
import KMSServer
import KMSStore
import Testing

/// `LastUsageStoring`'s and `UsageStoring`'s contracts.
@Suite struct UsageStoreContractTests {
    @Test(arguments: StoreBackend.allCases)
    func aLastUseOnlyMovesForward(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let key = Fixture.key()
            try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
            let t = Fixture.created
            try await stores.lastUsage.record([:])
            try await stores.lastUsage.record([
                key.keyID: KeyUsageRecord(operation: "Decrypt", date: t, requestID: "r2")
            ])
            try await stores.lastUsage.record([
                key.keyID: KeyUsageRecord(operation: "Encrypt", date: t.addingTimeInterval(-1), requestID: "r1")
            ])
            #expect(
                try await stores.lastUsage.lastUse(keyID: key.keyID)
                    == KeyUsageRecord(operation: "Decrypt", date: Fixture.stored(t), requestID: "r2"))
            // The same microsecond is not later.
            try await stores.lastUsage.record([
                key.keyID: KeyUsageRecord(operation: "Sign", date: t.addingTimeInterval(0.000_000_1), requestID: "r3")
            ])
            #expect(try await stores.lastUsage.lastUse(keyID: key.keyID)?.requestID == "r2")
            // Unknown keys are dropped, not an error.
            let later = t.addingTimeInterval(30)
            try await stores.lastUsage.record([
                key.keyID: KeyUsageRecord(operation: "Encrypt", date: later, requestID: "r4"),
                Fixture.newID(): KeyUsageRecord(operation: "Encrypt", date: later, requestID: "r5"),
            ])
            #expect(
                try await stores.lastUsage.lastUse(keyID: key.keyID)
                    == KeyUsageRecord(operation: "Encrypt", date: Fixture.stored(later), requestID: "r4"))
            #expect(try await stores.lastUsage.lastUse(keyID: Fixture.newID()) == nil)
            // A key id parsed from capitals is the same key (the PostgreSQL store crashed on it before).
            let latest = t.addingTimeInterval(60)
            let capitals = try #require(KeyID(key.keyID.description.uppercased()))
            try await stores.lastUsage.record([
                capitals: KeyUsageRecord(operation: "Decrypt", date: latest, requestID: "r7")
            ])
            #expect(try await stores.lastUsage.lastUse(keyID: key.keyID)?.requestID == "r7")
            #expect(try await stores.lastUsage.trackingStart() != nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aUsageBatchIsAddedOncePerID(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let hour = Date(timeIntervalSince1970: 1_764_399_600)
            let (a, b) = ("arn:aws:kms:us-east-1:111122223333:key/a", "arn:aws:kms:us-east-1:111122223333:key/b")
            func key(_ arn: String, _ operation: String, _ offset: TimeInterval) -> UsageKey {
                UsageKey(account: Fixture.account, keyARN: arn, operation: operation, hour: hour + offset)
            }
            let batch: [UsageKey: UsageCount] = [
                key(a, "Encrypt", 0): UsageCount(requests: 3, failed: 1),
                key(a, "Encrypt", 3600): UsageCount(requests: 2),
                key(b, "Decrypt", 0): UsageCount(requests: 5, failed: 5),
                key(a, "Encrypt", 7200): UsageCount(requests: 100),
                UsageKey(account: "444455556666", keyARN: a, operation: "Encrypt", hour: hour): UsageCount(requests: 9),
            ]
            let id = UUID()
            #expect(try await stores.usage.add(batch, id: id))
            #expect(!(try await stores.usage.add(batch, id: id)))
            #expect(!(try await stores.usage.add([:], id: UUID())))
            let to = hour + 7200
            var totals = try await stores.usage.totals(account: Fixture.account, keyARN: nil, from: hour, to: to)
            #expect(
                totals == [
                    UsageKey(account: Fixture.account, keyARN: a, operation: "Encrypt", hour: hour): UsageCount(
                        requests: 5, failed: 1),
                    UsageKey(account: Fixture.account, keyARN: b, operation: "Decrypt", hour: hour): UsageCount(
                        requests: 5, failed: 5),
                ])
            #expect(try await stores.usage.add([key(a, "Encrypt", 0): UsageCount(requests: 1)], id: UUID()))
            totals = try await stores.usage.totals(account: Fixture.account, keyARN: a, from: hour, to: to)
            #expect(totals == [key(a, "Encrypt", 0): UsageCount(requests: 6, failed: 1)])
        }
    }
}
