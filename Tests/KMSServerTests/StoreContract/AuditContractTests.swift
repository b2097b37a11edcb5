import Foundation
import KMSAuditChain
import KMSDomain
import KMSServer
import KMSStore
import KMSTestSupport
import Testing

/// `AuditWriting`'s and `AuditReading`'s contracts: what each backend's writer chains (the real
/// `AuditLog` on PostgreSQL, `InMemoryAuditLog` on the other), read back, filtered, paged and
/// walked the same way.
@Suite struct AuditContractTests {
    static let keyA = "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-4000-8000-000000000001"
    static let keyB = "arn:aws:kms:us-east-1:111122223333:key/bbbbbbbb-0000-4000-8000-000000000002"
    static let alice = "arn:aws:iam::111122223333:user/alice"
    static let bob = "arn:aws:iam::111122223333:user/bob"

    static func entry(
        _ operation: String, key: String?, by principal: String = Self.alice, at offset: TimeInterval,
        error: String? = nil, context: [String: String]? = nil
    ) -> AuditEntry {
        AuditEntry(
            time: Fixture.created.addingTimeInterval(offset), requestID: "req-\(operation)-\(offset)",
            principalARN: principal, accessKeyID: nil, sourceIP: "10.0.0.1", transport: "binary",
            operation: operation, keyARNs: key.map { [$0] } ?? [], alias: nil, encryptionContext: context,
            grantID: nil, errorCode: error)
    }

    /// A listed record as both backends must give it: chain, sequence, operation, marker.
    struct Seen: Equatable, CustomStringConvertible {
        var chain: String
        var sequence: Int64
        var operation: String
        var marker: String

        init(_ listed: AuditStore.Listed) {
            (self.chain, self.sequence) = (listed.record.chain, listed.record.sequence)
            (self.operation, self.marker) = (listed.record.entry.operation, listed.marker.description)
        }

        var description: String { "\(self.chain)#\(self.sequence) \(self.operation) @\(self.marker)" }
    }

    static func list(
        _ stores: ContractStores, _ filter: AuditStore.Filter = AuditStore.Filter(), after: AuditStore.Marker = .start,
        operations: [String]? = nil, maxSegments: Int = .max
    ) async throws -> (seen: [Seen], resume: AuditStore.Marker?) {
        var seen: [Seen] = []
        let resume = try await stores.auditRecords.scan(
            filter, after: after, operations: operations, maxSegments: maxSegments, deadline: nil
        ) { batch in
            seen += batch.map(Seen.init)
            return true
        }
        return (seen, resume)
    }

    @Test(arguments: StoreBackend.allCases)
    func recordsAreChainedOnceListedFilteredPagedAndWalked(_ backend: StoreBackend) async throws {
        let worker = InProcessCryptoBackend()
        defer { Task { await worker.shutdown() } }
        try await backend.run { stores in
            let log = stores.writer("default", worker)
            let replica = stores.writer("replica-2", nil)
            try await log.append(Self.entry("Encrypt", key: Self.keyA, at: 0), pending: nil)
            try await log.append(
                Self.entry("Decrypt", key: Self.keyB, by: Self.bob, at: 10, error: "AccessDeniedException"),
                pending: nil)
            // A change's record, committed with the change: chained once, however often it is handed over.
            let change = PendingAudit(chain: "default", entry: Self.entry("CreateKey", key: Self.keyB, at: 20))
            try await stores.keys.insert(Fixture.key(), material: nil, alias: nil, tags: [], audit: change)
            #expect(change.committed)
            try await log.append(change.entry, pending: change)
            try await log.append(change.entry, pending: change)
            log.adopt([change])
            // A change is answered before its record is chained: settle, so that the replica's
            // record comes after it in the log, as the order below expects.
            await log.settle()
            try await replica.append(Self.entry("Decrypt", key: Self.keyA, by: Self.bob, at: 30), pending: nil)
            try await log.append(Self.entry("GenerateDataKey", key: Self.keyA, at: 40), pending: nil)
            await log.close()
            await replica.close()

            let all = try await Self.list(stores)
            #expect(
                all.seen.map(\.description) == [
                    "default#1 Encrypt @1.1", "default#2 Decrypt @2.2", "default#3 CreateKey @3.3",
                    "replica-2#1 Decrypt @4.1", "default#4 GenerateDataKey @5.4",
                ])
            #expect(all.resume == nil)

            // Filters, each alone and together.
            #expect(
                try await Self.list(stores, AuditStore.Filter(keyARN: Self.keyA)).seen.map(\.sequence) == [1, 1, 4])
            #expect(
                try await Self.list(stores, AuditStore.Filter(principalARN: Self.bob)).seen.map(\.chain) == [
                    "default", "replica-2",
                ])
            #expect(
                try await Self.list(stores, AuditStore.Filter(errorCode: "AccessDeniedException")).seen.map(\.marker)
                    == ["2.2"])
            #expect(
                try await Self.list(stores, AuditStore.Filter(keyARN: Self.keyA, operation: "Decrypt")).seen.map(
                    \.marker) == ["4.1"])
            let window = AuditStore.Filter(
                from: Fixture.created.addingTimeInterval(10), to: Fixture.created.addingTimeInterval(30))
            #expect(try await Self.list(stores, window).seen.map(\.marker) == ["2.2", "3.3"])
            #expect(
                try await Self.list(stores, operations: ["GenerateDataKey", "CreateKey"]).seen.map(\.marker) == [
                    "3.3", "5.4",
                ])
            #expect(try await Self.list(stores, AuditStore.Filter(operation: "Sign")).seen.isEmpty)

            // Pages: two segments a call, then on from the marker handed back.
            let first = try await Self.list(stores, maxSegments: 2)
            #expect(first.seen.map(\.marker) == ["1.1", "2.2"])
            #expect(first.resume == AuditStore.Marker(segment: 2, sequence: .max))
            let rest = try await Self.list(stores, after: try #require(first.resume), maxSegments: 2)
            #expect(rest.seen.map(\.marker) == ["3.3", "4.1"])
            // A marker inside a segment goes on after its record; past the last, nothing.
            #expect(try await Self.list(stores, after: AuditStore.Marker(segment: 3, sequence: 2)).seen.count == 3)
            #expect(try await Self.list(stores, after: AuditStore.Marker(segment: 3, sequence: 3)).seen.count == 2)
            #expect(try await Self.list(stores, after: AuditStore.Marker(segment: 5, sequence: 4)).seen.isEmpty)
            // A body that has enough stops the scan: no marker.
            var calls = 0
            let stopped = try await stores.auditRecords.scan(
                AuditStore.Filter(), after: .start, operations: nil, maxSegments: .max, deadline: nil
            ) { _ in
                calls += 1
                return false
            }
            #expect(stopped == nil && calls == 1)

            // The chains and their heads, each record once, linked from the genesis.
            let chains = try await stores.auditRecords.chains()
            #expect(chains.map(\.chain) == ["default", "replica-2"])
            #expect(chains.map { $0.head?.sequence } == [4, 1])
            #expect(chains.map { $0.head?.checkpoint } == [4, 0])
            let walked = try #require(
                try await stores.auditRecords.walk(chain: "default", afterSegment: 0, segments: 2))
            #expect(walked.records.map(\.sequence) == [1, 2])
            #expect(walked.lastSegment == 2)
            let tail = try #require(try await stores.auditRecords.walk(chain: "default", afterSegment: 2, segments: 9))
            #expect(tail.records.map(\.sequence) == [3, 4])
            #expect(tail.lastSegment == 4)
            #expect(try await stores.auditRecords.walk(chain: "default", afterSegment: 4, segments: 9) == nil)
            #expect(AuditChain.firstBreak(in: walked.records + tail.records, after: (0, AuditRecord.genesis)) == nil)
            #expect(chains.first?.head?.hash == tail.records.last?.hash)
            // Times are kept in whole microseconds.
            #expect(walked.records.first.map { Fixture.micros($0.entry.time) } == Fixture.micros(Fixture.created))

            // One checkpoint per batch here, each covering its record.
            let checkpoints = try await stores.auditRecords.checkpoints(of: "default", after: 1, limit: 2)
            #expect(checkpoints.map(\.number) == [2, 3])
            #expect(checkpoints.map(\.sequence) == [2, 3])
            #expect(checkpoints.map(\.hash) == [walked.records[1].hash, tail.records[0].hash])
            #expect(try await stores.auditRecords.checkpoints(of: "replica-2", after: 0, limit: 9).isEmpty)
        }
    }
}
