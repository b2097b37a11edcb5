import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// The audit log in PostgreSQL: a chain per writer (each kmsd its own, so replicas never wait
/// on one another's head row), one segment per group commit (`AuditSegment`). This file
/// writes; AuditStore+Reading lists and walks.
public struct AuditStore: Sendable {
    public struct Filter: Sendable {
        public var keyARN: String?
        public var principalARN: String?
        public var operation: String?
        public var errorCode: String?
        public var from: Date?
        public var to: Date?

        public init(keyARN: String? = nil, principalARN: String? = nil, operation: String? = nil, errorCode: String? = nil, from: Date? = nil, to: Date? = nil) {
            self.keyARN = keyARN
            self.principalARN = principalARN
            self.operation = operation
            self.errorCode = errorCode
            self.from = from
            self.to = to
        }

        /// Whether one record matches (the segments' summary columns only narrow the search).
        public func matches(_ entry: AuditEntry) -> Bool {
            if let keyARN = self.keyARN, !entry.keyARNs.contains(keyARN) { return false }
            if let principal = self.principalARN, entry.principalARN != principal { return false }
            if let operation = self.operation, entry.operation != operation { return false }
            if let code = self.errorCode, entry.errorCode != code { return false }
            if let from = self.from, entry.time < from { return false }
            if let to = self.to, entry.time >= to { return false }
            return true
        }
    }

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A chain's head: the last sequence number and hash.
    public struct Head: Sendable, Hashable {
        public var sequence: Int64
        public var hash: [UInt8]

        public init(sequence: Int64, hash: [UInt8]) {
            self.sequence = sequence
            self.hash = hash
        }
    }

    /// A chain id names a writer (`--audit-chain`): 1 to 128 of letters, digits, `.`, `_`, `-`.
    public static func isValidChain(_ chain: String) -> Bool { AuditRecord.isValidChain(chain) }

    /// Holds one of the pool's connections for `body` (the log's writer, for a run of batches).
    public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await self.client.withConnection(body)
    }

    public func head(of chain: String) async throws -> Head {
        try await self.client.withConnection { try await self.head(of: chain, on: $0) }
    }

    /// The chain's head; a chain written for the first time starts at sequence 0 and the genesis hash.
    public func head(of chain: String, on connection: PostgresConnection) async throws -> Head {
        try await connection.query(
            """
            INSERT INTO kms_audit_chains (chain_id, last_seq, last_hash) VALUES (\(chain), 0, \(ByteBuffer(bytes: AuditRecord.genesis)))
            ON CONFLICT (chain_id) DO NOTHING
            """,
            logger: self.logger
        )
        let rows = try await connection.query("SELECT last_seq, last_hash FROM kms_audit_chains WHERE chain_id = \(chain)", logger: self.logger)
        for try await (sequence, digest) in rows.decode((Int64, Data).self) { return Head(sequence: sequence, hash: Array(digest)) }
        throw StoreError.invalid("the audit chain \(chain) has no head row")
    }

    /// Appends `records` to their chain, chained from `expected`, as one segment in one statement (one round
    /// trip, its own commit): the head moves to the last record only if it is still `expected`,
    /// and the segment goes in only if it moved. False when another writer extended the chain
    /// first; nothing was written then.
    public func append(_ records: [AuditRecord], expecting expected: Head) async throws -> Bool {
        try await self.client.withConnection { try await self.append(records, expecting: expected, on: $0) }
    }

    /// The same on a connection the writer holds: the log's one writer keeps a connection for as
    /// long as records keep coming, rather than leasing one from the pool per batch (each lease
    /// and release wakes the pool's own task on another thread).
    public func append(_ records: [AuditRecord], expecting expected: Head, on connection: PostgresConnection) async throws -> Bool {
        guard let first = records.first, let last = records.last else { return true }
        // A batch extends one chain: the one its records name.
        let chain = first.chain
        precondition(records.allSatisfy { $0.chain == chain }, "an audit batch spans chains")
        var keyARNs: Set<String> = [], principals: Set<String> = [], operations: Set<String> = [], errorCodes: Set<String> = []
        var earliest = first.entry.microseconds, latest = earliest
        for record in records {
            keyARNs.formUnion(record.entry.keyARNs)
            principals.insert(record.entry.principalARN)
            operations.insert(record.entry.operation)
            if let code = record.entry.errorCode { errorCodes.insert(code) }
            let micros = record.entry.microseconds
            earliest = min(earliest, micros)
            latest = max(latest, micros)
        }
        let statement = AppendSegment(
            chain: chain, lastSequence: last.sequence, lastHash: ByteBuffer(bytes: last.hash), expectedSequence: expected.sequence,
            expectedHash: ByteBuffer(bytes: expected.hash), firstSequence: first.sequence, earliest: earliest, latest: latest,
            keyARNs: Array(keyARNs), principals: Array(principals), operations: Array(operations), errorCodes: Array(errorCodes),
            records: AuditSegment.encode(records)
        )
        var written = false
        for try await _ in try await connection.execute(statement, logger: self.logger) { written = true }
        return written
    }

    /// Prepared once per connection: a batch costs PostgreSQL no parsing or planning.
    struct AppendSegment: PostgresPreparedStatement {
        static let name = "kms_audit_append_segment_v2"
        static let sql = """
            WITH moved AS (
                UPDATE kms_audit_chains SET last_seq = $1, last_hash = $2
                WHERE chain_id = $13 AND last_seq = $3 AND last_hash = $4
                RETURNING 1
            )
            INSERT INTO kms_audit_segments (chain_id, first_seq, last_seq, min_time, max_time, key_arns, principal_arns, operations,
                error_codes, records)
            SELECT $13, $5, $1, 'epoch'::timestamptz + $6 * interval '1 microsecond', 'epoch'::timestamptz + $7 * interval '1 microsecond',
                $8, $9, $10, $11, $12
            WHERE EXISTS (SELECT 1 FROM moved)
            RETURNING 1
            """
        typealias Row = Int32

        var chain: String
        var lastSequence: Int64
        var lastHash: ByteBuffer
        var expectedSequence: Int64
        var expectedHash: ByteBuffer
        var firstSequence: Int64
        var earliest: Int64
        var latest: Int64
        var keyARNs: [String]
        var principals: [String]
        var operations: [String]
        var errorCodes: [String]
        var records: ByteBuffer

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 13)
            bindings.append(self.lastSequence)
            bindings.append(self.lastHash)
            bindings.append(self.expectedSequence)
            bindings.append(self.expectedHash)
            bindings.append(self.firstSequence)
            bindings.append(self.earliest)
            bindings.append(self.latest)
            bindings.append(self.keyARNs)
            bindings.append(self.principals)
            bindings.append(self.operations)
            bindings.append(self.errorCodes)
            bindings.append(self.records)
            bindings.append(self.chain)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int32 { try row.decode(Int32.self) }
    }
}
