import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// The audit log in PostgreSQL: chained appends in one transaction per batch, filtered listing,
/// and reading in order for verification.
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
    }

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The chain's head: the last sequence number and hash.
    public struct Head: Sendable, Hashable {
        public var sequence: Int64
        public var hash: [UInt8]

        public init(sequence: Int64, hash: [UInt8]) {
            self.sequence = sequence
            self.hash = hash
        }
    }

    public func head() async throws -> Head {
        let rows = try await self.client.query("SELECT last_seq, last_hash FROM kms_audit_head", logger: self.logger)
        for try await (sequence, digest) in rows.decode((Int64, Data).self) { return Head(sequence: sequence, hash: Array(digest)) }
        throw StoreError.invalid("the audit log has no head row")
    }

    /// Appends `records`, chained from `expected`, in one statement (one round trip, its own
    /// commit): the head moves to the last record only if it is still `expected`, and the rows
    /// go in only if it moved. False when another writer extended the chain first; nothing
    /// was written then.
    public func append(_ records: [AuditRecord], expecting expected: Head) async throws -> Bool {
        guard let last = records.last else { return true }
        let rows = try await self.client.query(
            """
            WITH moved AS (
                UPDATE kms_audit_head SET last_seq = \(last.sequence), last_hash = \(Data(last.hash))
                WHERE last_seq = \(expected.sequence) AND last_hash = \(Data(expected.hash))
                RETURNING 1
            )
            INSERT INTO kms_audit (seq, event_time, request_id, principal_arn, access_key_id, source_ip, transport, operation,
                key_arns, alias, encryption_context, grant_id, error_code, prev_hash, record_hash)
            SELECT r.seq, to_timestamp(r.micros / 1000000.0), r.request_id, r.principal_arn, NULLIF(r.access_key_id, ''),
                NULLIF(r.source_ip, ''), r.transport, r.operation, string_to_array(r.key_arns, ' '), NULLIF(r.alias, ''),
                NULLIF(r.context, ''), NULLIF(r.grant_id, ''), NULLIF(r.error_code, ''), r.prev_hash, r.record_hash
            FROM unnest(\(records.map(\.sequence)), \(records.map(\.entry.microseconds)), \(records.map(\.entry.requestID)),
                \(records.map(\.entry.principalARN)), \(records.map { $0.entry.accessKeyID ?? "" }), \(records.map { $0.entry.sourceIP ?? "" }),
                \(records.map(\.entry.transport)), \(records.map(\.entry.operation)), \(records.map { $0.entry.keyARNs.joined(separator: " ") }),
                \(records.map { $0.entry.alias ?? "" }), \(records.map { Self.json($0.entry.encryptionContext) ?? "" }),
                \(records.map { $0.entry.grantID ?? "" }), \(records.map { $0.entry.errorCode ?? "" }),
                \(records.map { ByteBuffer(bytes: $0.previousHash) }), \(records.map { ByteBuffer(bytes: $0.hash) }))
                AS r(seq, micros, request_id, principal_arn, access_key_id, source_ip, transport, operation, key_arns, alias,
                     context, grant_id, error_code, prev_hash, record_hash)
            WHERE EXISTS (SELECT 1 FROM moved)
            RETURNING 1
            """,
            logger: self.logger
        )
        var inserted = 0
        for try await _ in rows { inserted += 1 }
        return inserted == records.count
    }

    static let columns = """
        seq, (extract(epoch from event_time) * 1000000)::bigint, request_id, principal_arn, access_key_id, source_ip, transport,
        operation, key_arns, alias, encryption_context, grant_id, error_code, prev_hash, record_hash
        """

    /// Records in sequence order after `after`, matching `filter`.
    public func list(_ filter: Filter, after: Int64, limit: Int) async throws -> [AuditRecord] {
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: Self.columns) FROM kms_audit
            WHERE seq > \(after)
              AND (\(filter.keyARN)::text IS NULL OR \(filter.keyARN) = ANY(key_arns))
              AND (\(filter.principalARN)::text IS NULL OR principal_arn = \(filter.principalARN))
              AND (\(filter.operation)::text IS NULL OR operation = \(filter.operation))
              AND (\(filter.errorCode)::text IS NULL OR error_code = \(filter.errorCode))
              AND (\(filter.from)::timestamptz IS NULL OR event_time >= \(filter.from))
              AND (\(filter.to)::timestamptz IS NULL OR event_time < \(filter.to))
            ORDER BY seq LIMIT \(limit)
            """,
            logger: self.logger
        )
        return try await Self.decode(rows)
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [AuditRecord] {
        var records: [AuditRecord] = []
        for try await row in rows {
            let (seq, micros, requestID, principal, accessKey, sourceIP, transport, operation) =
                try row.decode((Int64, Int64, String, String, String?, String?, String, String).self)
            let columns = row.makeRandomAccess()
            let entry = AuditEntry(
                time: Date(timeIntervalSince1970: Double(micros) / 1_000_000), requestID: requestID, principalARN: principal,
                accessKeyID: accessKey, sourceIP: sourceIP, transport: transport, operation: operation,
                keyARNs: try columns[8].decode([String].self), alias: try columns[9].decode(String?.self),
                encryptionContext: Self.context(try columns[10].decode(String?.self)), grantID: try columns[11].decode(String?.self),
                errorCode: try columns[12].decode(String?.self)
            )
            records.append(AuditRecord(
                sequence: seq, entry: entry, previousHash: Array(try columns[13].decode(Data.self)),
                hash: Array(try columns[14].decode(Data.self))
            ))
        }
        return records
    }

    static func json(_ context: [String: String]?) -> String? {
        guard let context, let data = try? JSONSerialization.data(withJSONObject: context, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func context(_ text: String?) -> [String: String]? {
        guard let text else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String]
    }
}
