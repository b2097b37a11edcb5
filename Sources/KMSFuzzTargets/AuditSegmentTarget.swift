import Foundation
import KMSAuditChain
import KMSDomain
import NIOCore

/// A stored audit segment (one group commit's records in one bytea), as the verifier and
/// ListAuditRecords read it back; the database is outside the trust boundary of the log (a
/// rewrite by its owner must be detected, not crash the reader).
///
/// Input: the segment's bytes. Decoding refuses with `Unreadable` or gives at least one record,
/// and every record it gives hashes (as verification does) and encodes to a segment that decodes
/// to the same records.
enum AuditSegmentTarget {
    static let target = FuzzTarget(name: "audit-segment", run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        let records: [AuditRecord]
        do {
            records = try AuditSegment.decode(ByteBuffer(bytes: data), chain: "fuzz", firstSequence: 1)
        } catch {
            return
        }
        require(!records.isEmpty, "a segment decoded to no records")
        for record in records {
            _ = AuditChain.hash(sequence: record.sequence, entry: record.entry, previous: record.previousHash)
        }
        let again = try? AuditSegment.decode(AuditSegment.encode(records), chain: "fuzz", firstSequence: 1)
        require(again == records, "the records do not survive encoding and decoding")
    }

    static func seeds() -> [[UInt8]] {
        func record(_ sequence: Int64, seconds: Double, context: [String: String]?, error: String?) -> AuditRecord {
            let entry = AuditEntry(
                time: Date(timeIntervalSince1970: seconds), requestID: "req-\(sequence)",
                principalARN: "arn:aws:iam::111122223333:role/app",
                accessKeyID: sequence % 2 == 0 ? "AKIAIOSFODNN7EXAMPLE" : nil, sourceIP: "192.0.2.7",
                transport: "aws-json",
                operation: "Decrypt", keyARNs: [FuzzKeys.keyARN], alias: sequence % 3 == 0 ? "alias/app" : nil,
                encryptionContext: context, grantID: nil, errorCode: error
            )
            let previous = [UInt8](repeating: UInt8(sequence), count: 32)
            return AuditRecord(
                chain: "fuzz", sequence: sequence, entry: entry, previousHash: previous,
                hash: AuditChain.hash(sequence: sequence, entry: entry, previous: previous))
        }
        let one = [record(1, seconds: 1_700_000_000.123456, context: ["tenant": "acme"], error: nil)]
        let three = [
            record(1, seconds: 1_700_000_000, context: nil, error: "AccessDeniedException"),
            record(2, seconds: 1_700_000_000.5, context: ["a": "b", "c": ""], error: nil),
            record(3, seconds: 1_700_000_001, context: [:], error: nil),
        ]
        return [Array(buffer: AuditSegment.encode(one)), Array(buffer: AuditSegment.encode(three)), [1]]
    }
}
