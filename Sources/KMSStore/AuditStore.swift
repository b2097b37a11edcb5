import Foundation
import KMSAuditChain
import KMSDomain
import Logging
import PostgresNIO

/// The audit log in PostgreSQL: a chain per writer (each kmsd its own, so replicas never wait
/// on one another's head row), one segment per group commit (`AuditSegment`). This file
/// writes; AuditStore+Reading lists and walks.
public struct AuditStore: Sendable {
    /// What a listing keeps; nil fields match anything, and all given must match.
    public struct Filter: Sendable {
        /// Records naming this key ARN among theirs.
        public var keyARN: String?
        /// Records of requests by this principal ARN.
        public var principalARN: String?
        /// Records of this operation, by its AWS name ("Decrypt").
        public var operation: String?
        /// Records that failed with this AWS exception name.
        public var errorCode: String?
        /// Records at or after this time.
        public var from: Date?
        /// Records before this time.
        public var to: Date?

        /// A filter; with no arguments, every record.
        public init(
            keyARN: String? = nil, principalARN: String? = nil, operation: String? = nil, errorCode: String? = nil,
            from: Date? = nil, to: Date? = nil
        ) {
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

    /// A store over `client`.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A chain's head row: the last record (sequence number and hash) and the chain's last
    /// checkpoint (its number, 0 for none yet, the record it covers and its MAC).
    public struct Head: Sendable, Hashable {
        /// The last record's sequence number; 0 for a chain with no records.
        public var sequence: Int64
        /// The last record's hash, which the next record links to (`AuditRecord.genesis` at first).
        public var hash: [UInt8]
        /// The last checkpoint's number; 0 for none yet.
        public var checkpoint: Int64
        /// The sequence of the record the last checkpoint covers.
        public var checkpointSequence: Int64
        /// 32 zero bytes while there is no checkpoint (what checkpoint 1 links to).
        public var checkpointMAC: [UInt8]

        /// The MAC of "no checkpoint": 32 zero bytes.
        public static let noMAC = [UInt8](repeating: 0, count: 32)

        /// A head as stored; without checkpoint fields, a chain never checkpointed.
        public init(
            sequence: Int64, hash: [UInt8], checkpoint: Int64 = 0, checkpointSequence: Int64 = 0,
            checkpointMAC: [UInt8] = Head.noMAC
        ) {
            self.sequence = sequence
            self.hash = hash
            self.checkpoint = checkpoint
            self.checkpointSequence = checkpointSequence
            self.checkpointMAC = checkpointMAC
        }

        /// Records after the last checkpoint: only the hash chain covers them.
        public var uncovered: Int64 { max(0, self.sequence - self.checkpointSequence) }

        /// The head once `checkpoint` is stored (it covers `sequence`).
        public func checkpointed(_ checkpoint: Checkpoint) -> Head {
            Head(
                sequence: self.sequence, hash: self.hash, checkpoint: checkpoint.number,
                checkpointSequence: checkpoint.sequence, checkpointMAC: checkpoint.mac)
        }
    }

    /// One checkpoint as stored: kms-cryptod's MAC over the chain, its number, the record it
    /// covers, its time and the previous checkpoint's MAC (KMSCrypto's AuditCheckpoint).
    public struct Checkpoint: Sendable, Hashable {
        /// The chain the checkpoint covers.
        public var chain: String
        /// Its number in the chain, from 1; each links to the previous one's MAC.
        public var number: Int64
        /// The sequence of the record it covers (with every record before it).
        public var sequence: Int64
        /// That record's hash, which the MAC covers.
        public var hash: [UInt8]
        /// kms-cryptod's time, microseconds since 1970.
        public var microseconds: Int64
        /// The root key the MAC key was derived from: the one to check the MAC with.
        public var rootKeyID: UUID
        /// kms-cryptod's MAC; only it can make one, so kmsd cannot rewrite the log and forge it.
        public var mac: [UInt8]

        /// A checkpoint as kms-cryptod made it.
        public init(
            chain: String, number: Int64, sequence: Int64, hash: [UInt8], microseconds: Int64, rootKeyID: UUID,
            mac: [UInt8]
        ) {
            self.chain = chain
            self.number = number
            self.sequence = sequence
            self.hash = hash
            self.microseconds = microseconds
            self.rootKeyID = rootKeyID
            self.mac = mac
        }
    }

    /// A chain id names a writer (`--audit-chain`): 1 to 128 of letters, digits, `.`, `_`, `-`.
    public static func isValidChain(_ chain: String) -> Bool { AuditRecord.isValidChain(chain) }

    /// Holds one of the pool's connections for `body` (the log's writer, for a run of batches).
    public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await self.client.withConnection(body)
    }

    /// The chain's head, on a connection of its own (see `head(of:on:)`).
    public func head(of chain: String) async throws -> Head {
        try await self.client.withConnection { try await self.head(of: chain, on: $0) }
    }

    /// The chain's head; a chain written for the first time starts at sequence 0 and the genesis hash.
    public func head(of chain: String, on connection: PostgresConnection) async throws -> Head {
        try await connection.query(
            """
            INSERT INTO kms_audit_chains (chain_id, last_seq, last_hash)
                VALUES (\(chain), 0, \(ByteBuffer(bytes: AuditRecord.genesis)))
            ON CONFLICT (chain_id) DO NOTHING
            """,
            logger: self.logger
        )
        let rows = try await connection.query(
            """
            SELECT last_seq, last_hash, checkpoint_no, checkpoint_seq, checkpoint_mac FROM kms_audit_chains
                WHERE chain_id = \(chain)
            """,
            logger: self.logger
        )
        for try await (sequence, digest, checkpoint, covered, mac) in rows.decode(
            (Int64, Data, Int64, Int64, Data?).self)
        {
            return Head(
                sequence: sequence, hash: Array(digest), checkpoint: checkpoint, checkpointSequence: covered,
                checkpointMAC: mac.map(Array.init) ?? Head.noMAC)
        }
        throw StoreError.invalid("the audit chain \(chain) has no head row")
    }

    /// Appends `records` to their chain as one segment in one call that commits before it answers,
    /// with `checkpoint` (of the last record) when there is one: the head row moves to `head`
    /// only if it is still `expected`, and the segment and checkpoint go in only if it moved.
    /// False when another writer extended the chain first; nothing was written then. `head` is
    /// the last record's, with the checkpoint's fields when one comes along; the records
    /// normally chain from `expected`, but a writer whose chain was cut back behind its back
    /// goes on from where it knows the chain was, so the cut shows (AuditLog).
    public func append(
        _ records: [AuditRecord], checkpoint: Checkpoint? = nil, head: Head? = nil, expecting expected: Head
    ) async throws -> Bool {
        try await self.client.withConnection {
            try await self.append(records, checkpoint: checkpoint, head: head, expecting: expected, on: $0)
        }
    }

    /// The same on a connection the writer holds: the log's one writer keeps a connection for as
    /// long as records keep coming, rather than leasing one from the pool per batch (each lease
    /// and release wakes the pool's own task on another thread).
    ///
    /// `pending` names the records that were committed with their changes (`AuditOutbox`): the
    /// statement deletes them from the outbox as it chains them, only if every one of them is
    /// still there (false, and nothing written, when another writer chained one first:
    /// `AuditOutbox.stillPending` tells which).
    public func append(
        _ records: [AuditRecord], checkpoint: Checkpoint? = nil, head: Head? = nil, expecting expected: Head,
        pending: [UUID] = [],
        on connection: PostgresConnection
    ) async throws -> Bool {
        guard let first = records.first, let last = records.last else { return true }
        let head =
            head
            ?? Head(
                sequence: last.sequence, hash: last.hash, checkpoint: expected.checkpoint,
                checkpointSequence: expected.checkpointSequence,
                checkpointMAC: expected.checkpointMAC
            )
        precondition(
            head.sequence == last.sequence && head.hash == last.hash, "the new head is not the batch's last record")
        precondition(
            checkpoint.map { $0.number == head.checkpoint && $0.sequence == last.sequence && $0.hash == last.hash }
                ?? true,
            "an audit checkpoint rides only with the record it covers")
        // A batch extends one chain: the one its records name.
        let chain = first.chain
        precondition(records.allSatisfy { $0.chain == chain }, "an audit batch spans chains")
        var keyARNs: Set<String> = []
        var principals: Set<String> = []
        var operations: Set<String> = []
        var errorCodes: Set<String> = []
        var earliest = first.entry.microseconds
        var latest = earliest
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
            chain: chain, lastSequence: last.sequence, lastHash: ByteBuffer(bytes: last.hash),
            expectedSequence: expected.sequence,
            expectedHash: ByteBuffer(bytes: expected.hash), firstSequence: first.sequence, earliest: earliest,
            latest: latest,
            keyARNs: Array(keyARNs), principals: Array(principals), operations: Array(operations),
            errorCodes: Array(errorCodes),
            records: AuditSegment.encode(records), expectedCheckpoint: expected.checkpoint, checkpoint: head.checkpoint,
            checkpointSequence: head.checkpointSequence,
            checkpointMAC: head.checkpoint == 0 ? nil : ByteBuffer(bytes: head.checkpointMAC),
            madeAt: checkpoint?.microseconds, rootKeyID: checkpoint?.rootKeyID, pending: pending
        )
        var written = false
        for try await moved in try await connection.execute(statement, logger: self.logger) { written = moved }
        return written
    }

    /// Prepared once per connection: a batch costs PostgreSQL no parsing or planning. The
    /// procedure (Migration16AuditAppendCommits) commits before the CALL is answered, so an
    /// answer means durable, in one round trip; the connection must not be in a transaction. The
    /// checkpoint row goes in only with a time ($18); the head row always takes the checkpoint
    /// columns it is given ($15..$17), which are its own unless a checkpoint comes along. Records
    /// that were committed with their changes ($20) leave the outbox in the same transaction: the
    /// head moves only when every one of them is still there, locked against another writer
    /// chaining it at the same time (one record chained twice, or dropped unchained). Answers
    /// whether the head moved.
    struct AppendSegment: PostgresPreparedStatement {
        static let name = "kms_audit_append_segment_v5"
        static let bindingDataTypes: [PostgresDataType] = [
            .int8, .bytea, .int8, .bytea, .int8, .int8, .int8, .textArray, .textArray, .textArray, .textArray, .bytea,
            .text,
            .int8, .int8, .int8, .bytea, .int8, .uuid, .uuidArray,
        ]
        static let sql = """
            CALL kms_audit_append_segment($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19, $20, NULL)
            """
        typealias Row = Bool

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
        var expectedCheckpoint: Int64
        var checkpoint: Int64
        var checkpointSequence: Int64
        var checkpointMAC: ByteBuffer?
        var madeAt: Int64?
        var rootKeyID: UUID?
        var pending: [UUID]

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 20)
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
            bindings.append(self.expectedCheckpoint)
            bindings.append(self.checkpoint)
            bindings.append(self.checkpointSequence)
            if let mac = self.checkpointMAC { bindings.append(mac) } else { bindings.appendNull() }
            if let madeAt = self.madeAt { bindings.append(madeAt) } else { bindings.appendNull() }
            if let rootKeyID = self.rootKeyID { bindings.append(rootKeyID) } else { bindings.appendNull() }
            bindings.append(self.pending)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Bool { try row.decode(Bool.self) }
    }
}
