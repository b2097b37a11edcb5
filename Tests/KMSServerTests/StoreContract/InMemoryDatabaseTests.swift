import Foundation
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import Testing

/// What the in-memory database does that the contract cannot compare with PostgreSQL's: its
/// outbox of committed audit records, and its own clock.
@Suite struct InMemoryDatabaseTests {
    @Test func theOutboxKeepsTheRecordsOfChangesThatTookEffectInOrder() async throws {
        let database = InMemoryDatabase()
        let key = Fixture.key()
        let created = Fixture.audit("CreateKey")
        try await database.insert(key, material: nil, alias: "alias/app", tags: [], audit: created)
        let taken = Fixture.audit("CreateKey")
        try await database.insert(Fixture.key(), material: nil, alias: "alias/app", tags: [], audit: taken)
        let stale = Fixture.audit("UpdateKeyDescription")
        var changed = key
        changed.version = 7
        _ = try await database.update(changed, audit: stale)
        let granted = Fixture.audit("CreateGrant")
        _ = try await database.insert(Fixture.grant("g1", keyID: key.keyID), audit: granted)
        let untagged = Fixture.audit("UntagResource")
        try await database.removeTags(keyID: key.keyID, ["absent"], audit: untagged)
        #expect(database.committedAudits.map(\.id) == [created.id, granted.id, untagged.id])
        #expect(created.committed && granted.committed && untagged.committed)
        #expect(!taken.committed && !stale.committed)
    }

    @Test func usageFlushIDsAreForgottenAfterADayOfTheDatabasesClock() async throws {
        let clock = ManualClock()
        let database = InMemoryDatabase(now: { clock.wallNow })
        let hour = Date(timeIntervalSince1970: 1_767_225_600)
        let batch = [
            UsageKey(account: Fixture.account, keyARN: "", operation: "GenerateRandom", hour: hour): UsageCount(
                requests: 1)
        ]
        let id = UUID()
        #expect(try await database.add(batch, id: id))
        clock.stepWall(by: 86_000)
        #expect(!(try await database.add(batch, id: id)))
        clock.stepWall(by: 401)
        #expect(try await database.add(batch, id: UUID()))  // prunes the first id
        #expect(try await database.add(batch, id: id))
        let totals = try await database.totals(account: Fixture.account, keyARN: nil, from: hour, to: hour + 3600)
        #expect(totals.values.map(\.requests) == [3])
        #expect(try await database.trackingStart() == Date(timeIntervalSince1970: 1_767_225_600))
    }

    @Test func theReaperGoesByTheEarlierOfTheServicesAndTheDatabasesClock() async throws {
        let clock = ManualClock()
        let database = InMemoryDatabase(now: { clock.wallNow })
        var key = Fixture.key(state: .pendingDeletion)
        key.pendingWindowInDays = 7
        key.deletionDate = clock.wallNow.addingTimeInterval(60)
        try await database.insert(key, material: nil, alias: nil, tags: [], audit: nil)
        // The service's clock past the date, the database's not: nothing goes.
        #expect(try await database.reapDue(serviceNow: clock.wallNow.addingTimeInterval(120)).deletedKeys.isEmpty)
        clock.stepWall(by: 120)
        // The database's past it, the service's not.
        #expect(try await database.reapDue(serviceNow: clock.wallNow.addingTimeInterval(-120)).deletedKeys.isEmpty)
        let round = try await database.reapDue(serviceNow: clock.wallNow)
        #expect(round.deletedKeys.map(\.keyID) == [key.keyID])
        #expect(database.deletedKeys.map(\.arn) == [key.arn])
        #expect(
            database.deletedKeys.map { Fixture.micros($0.scheduledAt) }
                == [Fixture.micros(Fixture.stored(key.deletionDate!)) - 7 * 86_400_000_000])
    }

    @Test func theRewrapLockExcludesOtherCallersUntilItsBodyEnds() async throws {
        let database = InMemoryDatabase()
        let inner = try await database.exclusively {
            try await database.exclusively { "nested" }
        }
        #expect(inner == .some(nil))
        struct Failure: Error {}
        await #expect(throws: Failure.self) {
            _ = try await database.exclusively { () async throws -> Int in throw Failure() }
        }
        #expect(try await database.exclusively { 1 } == 1)
    }
}
