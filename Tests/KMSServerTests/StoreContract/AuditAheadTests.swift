import Foundation
import KMSDomain
import KMSStore
import PostgresNIO
import Testing

@testable import KMSServer

/// A record queued ahead of its request's result (`AuditLog.appendAhead`): its commit runs while
/// the result is worked out, its request is answered once it is durable (whether it waits before
/// or after), and a request that fails instead amends it while it is still queued, or learns that
/// it is being written as a success and records the failure itself. The writer is held back by a
/// lock on its chain's head row (`AuditChangeAnswerTests`).
@Suite struct AuditAheadTests {
    typealias Log = AuditChangeAnswerTests

    static func entry(_ operation: String, at offset: TimeInterval) -> AuditEntry {
        AuditContractTests.entry(operation, key: AuditContractTests.keyA, at: offset)
    }

    /// The chain's records as stored: operation and error code ("" for none).
    static func records(_ client: PostgresClient) async throws -> [String] {
        try await Log.entries(client).map { "\($0.operation) \($0.errorCode ?? "")" }
    }

    @Test func aRequestWaitingOnItsTicketIsAnsweredOnceItsRecordIsDurable() async throws {
        try await Log.withLog { client, _, log in
            let lock = try await HeldLock.take(client, Log.headRow)
            let ticket = try #require(log.appendAhead(Self.entry("Decrypt", at: 1)))
            try await Log.untilWriting(log, count: 1)
            let answered = Task {
                try await ticket.wait()
                return ContinuousClock.now
            }
            try await Task.sleep(for: .milliseconds(100))
            let released = ContinuousClock.now
            try await lock.release()
            #expect(try await answered.value >= released)
            #expect(try await Self.records(client) == ["Encrypt ", "Decrypt "])
            // Answered before it was waited on: the wait returns at once.
            let early = try #require(log.appendAhead(Self.entry("Sign", at: 2)))
            await log.settle()
            try await early.wait()
            #expect(try await Self.records(client) == ["Encrypt ", "Decrypt ", "Sign "])
        }
    }

    @Test func aFailureAmendsAQueuedRecordButNotOneBeingWritten() async throws {
        try await Log.withLog { client, _, log in
            let lock = try await HeldLock.take(client, Log.headRow)
            let writing = try #require(log.appendAhead(Self.entry("Decrypt", at: 1)))
            try await Log.untilWriting(log, count: 1)
            let queued = try #require(log.appendAhead(Self.entry("Decrypt", at: 2)))
            #expect(!log.amend(writing, errorCode: "InvalidCiphertextException"))
            #expect(log.amend(queued, errorCode: "InvalidCiphertextException"))
            try await lock.release()
            try await writing.wait()
            try await queued.wait()
            // Once written, a record is not amended: the request records its failure itself.
            #expect(!log.amend(queued, errorCode: "KMSInternalException"))
            #expect(
                try await Self.records(client) == ["Encrypt ", "Decrypt ", "Decrypt InvalidCiphertextException"])
        }
    }

    /// A record not durable in time fails its request, whose result is withheld, and is still
    /// written, once. It says what its caller was told, unless its statement, sent before the
    /// writer gave up on it, committed after all (as `append`'s records: AuditTests' stall).
    @Test func aTicketNotDurableInTimeFailsAndItsRecordIsStillWritten() async throws {
        try await Log.withLog(timeout: .seconds(1)) { client, _, log in
            let lock = try await HeldLock.take(client, Log.headRow)
            let ticket = try #require(log.appendAhead(Self.entry("GenerateDataKey", at: 1)))
            await #expect(throws: (any Error).self) { try await ticket.wait() }
            try await lock.release()
            // The writer tries again after its backoff.
            var records: [String] = []
            for _ in 0..<100 where records.count < 2 {
                try await Task.sleep(for: .milliseconds(50))
                records = try await Self.records(client)
            }
            #expect(
                records == ["Encrypt ", "GenerateDataKey KMSInternalException"]
                    || records == ["Encrypt ", "GenerateDataKey "], "\(records)")
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await Self.records(client).count == 2)
        }
    }
}
