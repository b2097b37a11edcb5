import Foundation
import KMSAuditChain
import KMSDomain
import KMSStore
import KMSTestSupport
import Logging
import PostgresNIO
import Testing

/// Migration 11 moves the records kept one per row into segments: the same records, the same
/// hashes, so a chain written before it still verifies and grows after it.
@Suite struct AuditMigrationTests {
    static let logger = Logger(label: "test")

    static func entry(
        _ micros: Int64, operation: String, keyARNs: [String], alias: String? = nil,
        context: [String: String]? = nil, grantID: String? = nil, errorCode: String? = nil
    ) -> AuditEntry {
        AuditEntry(
            time: Date(timeIntervalSince1970: Double(micros) / 1_000_000), requestID: UUID().uuidString.lowercased(),
            principalARN: "arn:aws:iam::111122223333:user/ops",
            accessKeyID: errorCode == nil ? "AKIAEXAMPLE0000000001" : nil,
            sourceIP: errorCode == nil ? "10.0.0.7" : nil, transport: "binary", operation: operation, keyARNs: keyARNs,
            alias: alias, encryptionContext: context, grantID: grantID, errorCode: errorCode
        )
    }

    @Test func recordsKeptBeforeSegmentsMoveIntoThemAndStillVerify() async throws {
        let database = try await TestDatabase.create()
        defer { Task { await database.drop() } }
        let key = "arn:aws:kms:us-east-1:111122223333:key/0b0e5a2c-5b1f-4a51-9d57-1c2f3e4d5a6b"
        let other = "arn:aws:kms:us-east-1:111122223333:key/7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
        let entries = [
            Self.entry(
                1_764_400_000_123_456, operation: "Encrypt", keyARNs: [key], alias: "alias/app",
                context: ["tenant": "zürich", "purpose": "backup", "": "empty name"]),
            Self.entry(1_764_400_000_223_457, operation: "ReEncrypt", keyARNs: [key, other], grantID: "a1b2c3"),
            Self.entry(1_764_400_001_000_000, operation: "Decrypt", keyARNs: [], errorCode: "AccessDeniedException"),
        ]
        var records: [AuditRecord] = []
        var previous = AuditChain.genesis
        for (index, entry) in entries.enumerated() {
            let sequence = Int64(index + 1)
            let hash = AuditChain.hash(sequence: sequence, entry: entry, previous: previous)
            records.append(AuditRecord(sequence: sequence, entry: entry, previousHash: previous, hash: hash))
            previous = hash
        }
        let legacy = records
        try await database.withClient { client in
            try await Migrations.apply(on: client, upTo: 10, logger: Self.logger)
            // As the audit log wrote them before migration 11.
            for record in legacy {
                let entry = record.entry
                let context = try entry.encryptionContext.map {
                    String(
                        decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
                }
                try await client.query(
                    """
                    INSERT INTO kms_audit (seq, event_time, request_id, principal_arn, access_key_id, source_ip,
                        transport, operation,
                        key_arns, alias, encryption_context, grant_id, error_code, prev_hash, record_hash)
                    VALUES (\(record.sequence), 'epoch'::timestamptz + \(entry.microseconds) * interval '1 microsecond',
                        \(entry.requestID),
                        \(entry.principalARN), \(entry.accessKeyID), \(entry.sourceIP), \(entry.transport),
                            \(entry.operation), \(entry.keyARNs),
                        \(entry.alias), \(context), \(entry.grantID), \(entry.errorCode),
                            \(ByteBuffer(bytes: record.previousHash)),
                        \(ByteBuffer(bytes: record.hash)))
                    """,
                    logger: Self.logger
                )
            }
            try await client.query(
                "UPDATE kms_audit_head SET last_seq = 3, last_hash = \(ByteBuffer(bytes: legacy[2].hash))",
                logger: Self.logger)
            try await Migrations.apply(on: client, logger: Self.logger)

            let store = AuditStore(client: client, logger: Self.logger)
            let moved = try #require(try await store.walk(chain: "default", afterSegment: .min, segments: 100))
            #expect(moved.records == legacy)
            #expect(AuditChain.firstBreak(in: moved.records, after: (0, AuditChain.genesis)) == nil)
            #expect(
                try await store.list(AuditStore.Filter(keyARN: other), after: .start, limit: 10).records.map(
                    \.record.sequence) == [2])
            #expect(
                try await store.list(AuditStore.Filter(errorCode: "AccessDeniedException"), after: .start, limit: 10)
                    .records.map(\.record.sequence) == [3])

            // The chain goes on from the migrated head, in a segment of several records.
            let head = try await store.head(of: "default")
            #expect(head == AuditStore.Head(sequence: 3, hash: legacy[2].hash))
            var appended: [AuditRecord] = []
            var last = head
            for micros in [Int64(1_764_400_002_000_000), 1_764_400_002_000_001] {
                let entry = Self.entry(micros, operation: "GenerateDataKey", keyARNs: [other])
                let hash = AuditChain.hash(sequence: last.sequence + 1, entry: entry, previous: last.hash)
                appended.append(
                    AuditRecord(sequence: last.sequence + 1, entry: entry, previousHash: last.hash, hash: hash))
                last = AuditStore.Head(sequence: last.sequence + 1, hash: hash)
            }
            #expect(try await store.append(appended, expecting: head))
            // A writer that lost the race writes nothing.
            #expect(try await !store.append(appended, expecting: head))
            let all = try #require(try await store.walk(chain: "default", afterSegment: .min, segments: 100)).records
            #expect(all == legacy + appended)
            #expect(AuditChain.firstBreak(in: all, after: (0, AuditChain.genesis)) == nil)
            let first = try await store.list(AuditStore.Filter(keyARN: other), after: .start, limit: 1).records
            #expect(first.map(\.record.sequence) == [2])
            let next = try await store.list(
                AuditStore.Filter(keyARN: other), after: try #require(first.first).marker, limit: 10)
            #expect(next.records.map(\.record.sequence) == [4, 5] && next.resume == nil)
            // Reading at most two segments a page: short pages with a marker, nothing lost.
            var found: [Int64] = []
            var marker = AuditStore.Marker.start
            var pages = 0
            while true {
                let page = try await store.list(
                    AuditStore.Filter(keyARN: other), after: marker, limit: 10, maxSegments: 2)
                found += page.records.map(\.record.sequence)
                pages += 1
                guard let resume = page.resume else { break }
                marker = resume
            }
            #expect(found == [2, 4, 5] && pages >= 2)

            // Another writer's chain starts at the genesis and does not touch this one.
            let fresh = try await store.head(of: "replica-b")
            #expect(fresh == AuditStore.Head(sequence: 0, hash: AuditChain.genesis))
            let entry = Self.entry(1_764_400_003_000_000, operation: "Sign", keyARNs: [key])
            let record = AuditRecord(
                chain: "replica-b", sequence: 1, entry: entry, previousHash: fresh.hash,
                hash: AuditChain.hash(sequence: 1, entry: entry, previous: fresh.hash))
            #expect(try await store.append([record], expecting: fresh))
            #expect(try await store.chains().map(\.chain) == ["default", "replica-b"])
            #expect(try await store.head(of: "default") == last)
            #expect(try await store.walk(chain: "replica-b", afterSegment: .min, segments: 10)?.records == [record])
            let tables = try await client.query(
                "SELECT count(*)::int FROM pg_tables WHERE tablename IN ('kms_audit', 'kms_audit_head')",
                logger: Self.logger)
            for try await count in tables.decode(Int.self) { #expect(count == 0) }
        }
    }
}
