import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Logging
import PostgresNIO
import Testing

/// A change commits with its audit record in the outbox (kms_audit_pending) and is answered; its
/// kmsd chains the record right after. A kmsd killed between the two, whose chain never comes back (a replaced
/// pod: the chain is its name), leaves the record there: another kmsd chains it once it is
/// `--audit-adopt-after-seconds` old (issue 18).
@Suite struct AuditOrphanTests {
    static let logger = Logger(label: "test")

    @Test func aKilledReplicasUnchainedRecordIsChainedByAnother() async throws {
        let stack = try await KMSStack.start(kmsdArguments: [
            "--audit-chain", "gone-pod", "--audit-timeout-seconds", "1",
        ])
        let first = try await stack.client.createKey("before")
        // A change is answered before its record is chained; a reader of the log settles first.
        #expect(try await stack.client.auditRecords { $0.operation = "CreateKey" }.map(\.keyArns) == [[first.arn]])
        #expect(try await Self.pending(stack.database).isEmpty)

        // Hold the chain's head row: gone-pod's next append waits behind the lock while the
        // change itself (another table) commits with its record.
        let lock = try await HeldLock.take(
            stack.database, "SELECT 1 FROM kms_audit_chains WHERE chain_id = 'gone-pod' FOR UPDATE")
        // Answered at once: the record is durable in the outbox with the key.
        let orphaned = try await stack.client.createKey("orphaned")
        await stack.kmsd.crash()
        // A killed kmsd's statements live on in PostgreSQL until they get their lock: end them,
        // as if kmsd had died before sending its append.
        try await Self.endWaitingBackends(stack.database)
        try await lock.release()
        #expect(try await Self.pending(stack.database) == ["gone-pod": 1])

        let survivor = try await stack.secondKMSD(arguments: [
            "--audit-chain", "survivor", "--audit-adopt-after-seconds", "1",
        ])
        let client = try survivor.client(credentials: stack.adminCredentials)
        let until = ContinuousClock.now + .seconds(60)
        while try await !Self.pending(stack.database).isEmpty, ContinuousClock.now < until {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await Self.pending(stack.database).isEmpty, "the orphaned record was not chained")

        let creations = try await client.auditRecords { $0.operation = "CreateKey" }.filter(\.errorCode.isEmpty)
        let arns = creations.flatMap(\.keyArns)
        #expect(arns.filter { $0 == orphaned.arn }.count == 1, "the orphaned key's creation, once: \(arns)")
        #expect(arns.filter { $0 == first.arn }.count == 1)
        let verified = try await client.verifyAuditLog()
        #expect(verified.intact, "\(verified.reason)")
        #expect(verified.chainsChecked >= 2, "gone-pod and survivor (and the bootstrap's): \(verified.chainsChecked)")
        await client.close()
        await survivor.stop()
        await stack.stop()
    }

    /// The outbox's rows by chain.
    static func pending(_ database: TestDatabase) async throws -> [String: Int] {
        try await database.withClient { client in
            var pending: [String: Int] = [:]
            let rows = try await client.query(
                "SELECT chain_id, count(*)::int FROM kms_audit_pending GROUP BY chain_id", logger: Self.logger)
            for try await (chain, count) in rows.decode((String, Int).self) { pending[chain] = count }
            return pending
        }
    }

    /// Terminates the database's backends waiting for a lock until none has for a second.
    static func endWaitingBackends(_ database: TestDatabase) async throws {
        try await database.withClient { client in
            var quiet = 0
            while quiet < 10 {
                let rows = try await client.query(
                    """
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                        WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
                    """, logger: Self.logger)
                var ended = 0
                for try await _ in rows.decode(Bool.self) { ended += 1 }
                quiet = ended == 0 ? quiet + 1 : 0
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
