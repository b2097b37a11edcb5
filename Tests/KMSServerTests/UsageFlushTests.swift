import Foundation
import KMSStore
import KMSTestSupport
import Logging
import Testing

/// Usage batches are added once: a flush whose commit answer was lost is sent again with its
/// id, and billing does not count its requests twice (FaultTests' PostgreSQL-down test saw
/// one more success counted than callers were told of before this).
@Suite struct UsageFlushTests {
    static let logger = Logger(label: "test")

    @Test func aBatchSentAgainWithItsIdIsAddedOnce() async throws {
        let database = try await TestDatabase.create()
        defer { Task { await database.drop() } }
        try await database.withClient { try await Migrations.apply(on: $0, logger: Self.logger) }
        try await database.withClient { client in
            let store = UsageStore(client: client, logger: Self.logger)
            let hour = Date(timeIntervalSince1970: 1_800_000_000 - 1_800_000_000.truncatingRemainder(dividingBy: 3600))
            let key = UsageKey(
                account: "111122223333", keyARN: "arn:aws:kms:us-east-1:111122223333:key/k", operation: "Encrypt",
                hour: hour)
            let batch = [key: UsageCount(requests: 5, failed: 1)]
            let id = UUID()
            #expect(try await store.add(batch, id: id))
            #expect(try await !store.add(batch, id: id), "the same batch again adds nothing")
            #expect(try await store.add(batch, id: UUID()), "another batch of the same counts is added")
            let totals = try await store.totals(
                account: "111122223333", keyARN: key.keyARN, from: hour, to: hour + 3600)
            #expect(totals.values.first == UsageCount(requests: 10, failed: 2))
            #expect(try await !store.add([:], id: UUID()), "an empty batch is not sent")
        }
    }
}
