import Foundation
import KMSAuditChain
import KMSDomain
import PostgresNIO

extension AuditStore {
    /// Where a listing goes on: after record `sequence` of segment `segment`. Segments are
    /// numbered in the order they were inserted, across chains (ids start at 1).
    public struct Marker: Sendable, Hashable, LosslessStringConvertible {
        /// The segment's id (`kms_audit_segments.segment_id`); 0 before the first.
        public var segment: Int64
        /// The last record returned from that segment; `Int64.max`: all of it was read.
        public var sequence: Int64

        /// Before every record: a listing's first page.
        public static let start = Marker(segment: 0, sequence: 0)

        /// A marker from its parts.
        public init(segment: Int64, sequence: Int64) {
            self.segment = segment
            self.sequence = sequence
        }

        /// Parses `description`'s "segment.sequence"; nil for anything else, negatives included.
        public init?(_ text: String) {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let segment = Int64(parts[0]), let sequence = Int64(parts[1]), segment >= 0,
                sequence >= 0
            else {
                return nil
            }
            self.init(segment: segment, sequence: sequence)
        }

        /// "segment.sequence": the opaque marker a listing hands its caller.
        public var description: String { "\(self.segment).\(self.sequence)" }
    }

    /// A record and the marker that continues a listing after it.
    public struct Listed: Sendable {
        /// The record, as chained.
        public var record: AuditRecord
        /// Where a listing that ends with this record goes on.
        public var marker: Marker

        /// A listed record from its parts (other `AuditReading` implementations make them too).
        public init(record: AuditRecord, marker: Marker) {
            self.record = record
            self.marker = marker
        }
    }

    /// A page of a listing. `resume` is set when the page ended because `maxSegments` were read
    /// (or the deadline passed) before `limit` records matched (a rare combination of filters
    /// over a long log): the listing goes on from there, so no call reads the whole log.
    public struct Page: Sendable {
        /// The matching records, at most the listing's `limit`.
        public var records: [Listed]
        /// Where to go on when the page stopped before the log ended; nil when no record is left.
        public var resume: Marker?
    }

    /// Records after `after` matching `filter`, in the order their segments were inserted, at
    /// most `limit`, reading at most `maxSegments` segments.
    public func list(_ filter: Filter, after: Marker, limit: Int, maxSegments: Int = 20_000) async throws -> Page {
        var records: [Listed] = []
        let resume = try await self.scan(filter, after: after, maxSegments: maxSegments) { batch in
            records.append(contentsOf: batch.prefix(limit - records.count))
            return records.count < limit
        }
        return Page(records: records, resume: resume)
    }

    /// Calls `body` with the matching records of successive segments until it returns false or
    /// the log ends. PostgreSQL chooses the segments by their summary columns, each filter
    /// indexed (key and principal: migration 11; operation and error code: migration 14), so a
    /// listing of one key reads only the segments that name it; their records are then
    /// filtered one by one (a segment naming key K and operation Decrypt may hold no Decrypt
    /// of K). A segment inserted while this runs but numbered before where it has got to (two
    /// chains committing at once) is not seen: listings are not snapshots.
    /// Past `maxSegments` read, or `deadline`, it stops and returns where to go on from.
    @discardableResult
    public func scan(
        _ filter: Filter, after: Marker = .start, operations: [String]? = nil, maxSegments: Int = .max,
        deadline: ContinuousClock.Instant? = nil, _ body: ([Listed]) throws -> Bool
    ) async throws -> Marker? {
        // The marker's segment is read again for its records after the marker, unless the
        // marker is past all of them (a resume): then reading it again would count it again,
        // and a call allowed one segment would never get past it.
        var cursor = after.sequence == .max ? after.segment : after.segment - 1
        var read = 0
        // A page often ends within a few segments; a sparse match needs many: fetch more each round.
        var batch = 8
        while true {
            // Each filter folds away when absent (PostgreSQL plans each query with its values).
            // `error_codes <> '{}'` is the partial index's predicate: stated, the index is usable.
            let rows = try await self.client.query(
                """
                SELECT segment_id, chain_id, first_seq, records FROM kms_audit_segments
                WHERE segment_id > \(cursor)
                  AND (\(filter.keyARN)::text IS NULL OR key_arns @> ARRAY[\(filter.keyARN)::text])
                  AND (\(filter.principalARN)::text IS NULL OR principal_arns @> ARRAY[\(filter.principalARN)::text])
                  AND (\(filter.operation)::text IS NULL OR operations @> ARRAY[\(filter.operation)::text])
                  AND (\(operations)::text[] IS NULL OR operations && \(operations)::text[])
                  AND (\(filter.errorCode)::text IS NULL OR (error_codes <> '{}'
                      AND error_codes @> ARRAY[\(filter.errorCode)::text]))
                  AND (\(filter.from)::timestamptz IS NULL OR max_time >= \(filter.from))
                  AND (\(filter.to)::timestamptz IS NULL OR min_time < \(filter.to))
                ORDER BY segment_id LIMIT \(batch)
                """,
                logger: self.logger
            )
            var segments = 0
            for try await (segment, chain, first, stored) in rows.decode((Int64, String, Int64, ByteBuffer).self) {
                segments += 1
                read += 1
                cursor = segment
                let matching = try AuditSegment.decode(stored, chain: chain, firstSequence: first).filter {
                    (segment != after.segment || $0.sequence > after.sequence) && filter.matches($0.entry)
                        && (operations?.contains($0.entry.operation) ?? true)
                }
                if !matching.isEmpty,
                    try !body(
                        matching.map { Listed(record: $0, marker: Marker(segment: segment, sequence: $0.sequence)) })
                {
                    return nil
                }
                // Past the whole of this segment: Int64.max as the sequence skips all of it.
                if read >= maxSegments || deadline.map({ ContinuousClock.now >= $0 }) == true {
                    return Marker(segment: segment, sequence: .max)
                }
            }
            if segments < batch { return nil }
            batch = min(batch * 2, 256)
        }
    }

    /// Every chain: those with a head row and those found only in segments or checkpoints (a
    /// head row deleted behind the service's back), with the head when there is one.
    public func chains() async throws -> [(chain: String, head: Head?)] {
        let rows = try await self.client.query(
            """
            SELECT chain_id, last_seq, last_hash, checkpoint_no, checkpoint_seq, checkpoint_mac FROM kms_audit_chains
            UNION ALL
            SELECT chain_id, NULL::bigint, NULL::bytea, NULL::bigint, NULL::bigint, NULL::bytea FROM (
                SELECT DISTINCT chain_id FROM kms_audit_segments UNION SELECT DISTINCT chain_id
                    FROM kms_audit_checkpoints
            ) o
            WHERE NOT EXISTS (SELECT 1 FROM kms_audit_chains c WHERE c.chain_id = o.chain_id)
            ORDER BY 1
            """,
            logger: self.logger
        )
        var chains: [(chain: String, head: Head?)] = []
        for try await (chain, sequence, hash, checkpoint, covered, mac) in rows.decode(
            (String, Int64?, Data?, Int64?, Int64?, Data?).self)
        {
            guard let sequence, let hash else {
                chains.append((chain, nil))
                continue
            }
            chains.append(
                (
                    chain,
                    Head(
                        sequence: sequence, hash: Array(hash), checkpoint: checkpoint ?? 0,
                        checkpointSequence: covered ?? 0,
                        checkpointMAC: mac.map(Array.init) ?? Head.noMAC
                    )
                ))
        }
        return chains
    }

    /// Every record of the segments of `chain` after the one that starts at `afterSegment`, in
    /// stored order and unfiltered, for walking the chain: a tampered segment cannot hide
    /// records from verification by their sequence numbers. Nil when no segment follows.
    public func walk(chain: String, afterSegment: Int64, segments: Int) async throws -> (
        records: [AuditRecord], lastSegment: Int64
    )? {
        let rows = try await self.client.query(
            """
            SELECT first_seq, records FROM kms_audit_segments WHERE chain_id = \(chain) AND first_seq > \(afterSegment)
            ORDER BY first_seq LIMIT \(segments)
            """,
            logger: self.logger
        )
        var records: [AuditRecord] = []
        var last: Int64?
        for try await (first, stored) in rows.decode((Int64, ByteBuffer).self) {
            records.append(contentsOf: try AuditSegment.decode(stored, chain: chain, firstSequence: first))
            last = first
        }
        return last.map { (records, $0) }
    }
}
