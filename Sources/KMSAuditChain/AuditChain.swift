import Crypto
import Foundation
import KMSCrypto
import KMSDomain

/// The audit log's hash chain: each record's hash covers its sequence number, its content and
/// the previous record's hash, so an edited, deleted, inserted or reordered record breaks the
/// chain at that point.
public enum AuditChain {
    /// The hash the first record of every chain links to: 32 zero bytes.
    public static let genesis = AuditRecord.genesis

    /// `entries` as the records of `chain` that follow the record (`previous.sequence`,
    /// `previous.hash`), in order, and the last one's sequence and hash (`previous` for none):
    /// what every writer of the log, kmsd's and the in-memory one of the tests, appends.
    public static func link(
        _ entries: some Sequence<AuditEntry>, chain: String, after previous: (sequence: Int64, hash: [UInt8])
    ) -> (records: [AuditRecord], last: (sequence: Int64, hash: [UInt8])) {
        var records: [AuditRecord] = []
        records.reserveCapacity(entries.underestimatedCount)
        var last = previous
        for entry in entries {
            let sequence = last.sequence + 1
            let digest = Self.hash(sequence: sequence, entry: entry, previous: last.hash)
            records.append(
                AuditRecord(chain: chain, sequence: sequence, entry: entry, previousHash: last.hash, hash: digest))
            last = (sequence, digest)
        }
        return (records, last)
    }

    /// The record's SHA-256 over its sequence, every field of `entry` and `previous`, in a fixed,
    /// versioned encoding; changing the encoding breaks every chain already written.
    public static func hash(sequence: Int64, entry: AuditEntry, previous: [UInt8]) -> [UInt8] {
        // One buffer, sized once: this runs for every request under load.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        bytes.append(contentsOf: "kms-audit-v1".utf8)
        bytes.appendBigEndian(UInt64(bitPattern: sequence))
        bytes.appendBigEndian(UInt64(bitPattern: entry.microseconds))
        append(entry.requestID, to: &bytes)
        append(entry.principalARN, to: &bytes)
        append(entry.accessKeyID, to: &bytes)
        append(entry.sourceIP, to: &bytes)
        append(entry.transport, to: &bytes)
        append(entry.operation, to: &bytes)
        append(entry.alias, to: &bytes)
        append(entry.grantID, to: &bytes)
        append(entry.errorCode, to: &bytes)
        bytes.appendBigEndian(UInt32(entry.keyARNs.count))
        for arn in entry.keyARNs { append(arn, to: &bytes) }
        if let context = entry.encryptionContext {
            bytes.append(1)
            bytes.append(contentsOf: (try? EncryptionContextEncoding.canonicalBytes(context)) ?? [])
        } else {
            bytes.append(0)
        }
        bytes.append(contentsOf: previous)
        // Copied through its bytes: `Array(digest)` iterates the digest, a type of another
        // module, by its generic Sequence conformance.
        return SHA256.hash(data: bytes).withUnsafeBytes { [UInt8]($0) }
    }

    /// Absent and empty differ: a marker byte, then the length-prefixed UTF-8.
    private static func append(_ text: String?, to bytes: inout [UInt8]) {
        guard let text else {
            bytes.append(0)
            return
        }
        bytes.append(1)
        bytes.appendBigEndian(UInt32(text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }

    /// The first record that does not follow from the one before it, and why; nil when all do.
    public static func firstBreak(in records: [AuditRecord], after previous: (sequence: Int64, hash: [UInt8])) -> (
        sequence: Int64, reason: String
    )? {
        var last = previous
        for record in records {
            if record.sequence != last.sequence + 1 {
                return (
                    record.sequence,
                    "sequence \(record.sequence) follows \(last.sequence): records are missing or out of order"
                )
            }
            if record.previousHash != last.hash {
                return (
                    record.sequence, "it does not link to the record before it (deleted, inserted or reordered records)"
                )
            }
            if hash(sequence: record.sequence, entry: record.entry, previous: record.previousHash) != record.hash {
                return (record.sequence, "its content does not match its hash (the record was edited)")
            }
            last = (record.sequence, record.hash)
        }
        return nil
    }
}

/// The chain's integers, big-endian (KMSCrypto's formats have their own, internal to it).
extension Array where Element == UInt8 {
    fileprivate mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { self.append(contentsOf: $0) }
    }
}
