import KMSDomain
import NIOCore

import struct Foundation.Date

/// The stored form of one group commit: its records, one after another, in one bytea.
///
/// One row per batch instead of one per record is what keeps the audit log's cost at the margin:
/// PostgreSQL inserts, indexes and logs one tuple per commit, and kmsd binds one buffer instead
/// of fifteen arrays. The hash chain is unchanged: each record keeps its sequence number, the
/// hash of the record before it and its own hash (`AuditChain`), so verification walks records
/// exactly as before.
///
/// Layout (big-endian): a version byte (1), then per record: seq i64, time µs i64, request id,
/// principal ARN, access key id?, source address?, transport, operation, key ARNs (u16 count,
/// then each), alias?, encryption context? (u16 count, then key and value of each), grant id?,
/// error code?, previous hash (32 bytes), hash (32 bytes). A string is a u32 length and UTF-8;
/// an optional one (`?`) is a byte 0 for absent, or 1 and the string.
///
/// KMSStore's migration 11 writes the same layout from SQL, for the records kept before it: keep
/// both in step.
public enum AuditSegment {
    static let version: UInt8 = 1
    static let hashLength = 32

    /// A segment that cannot be read: its bytes were changed outside the service.
    public struct Unreadable: Error, CustomStringConvertible {
        /// The chain whose segment it is.
        public var chain: String
        /// The sequence number of the segment's first record, which finds the segment.
        public var firstSequence: Int64
        /// Which records cannot be read; not what is wrong with the bytes.
        public var description: String {
            "the stored records of chain \(self.chain) from sequence \(self.firstSequence) on cannot be read"
        }
    }

    /// The segment's bytes for `records` (of one chain) in the layout above; the chain id is not among
    /// them: the row holds it.
    public static func encode(_ records: [AuditRecord]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 1 + records.count * 320)
        buffer.writeInteger(Self.version)
        for record in records {
            let entry = record.entry
            buffer.writeInteger(record.sequence)
            buffer.writeInteger(entry.microseconds)
            write(entry.requestID, to: &buffer)
            write(entry.principalARN, to: &buffer)
            write(optional: entry.accessKeyID, to: &buffer)
            write(optional: entry.sourceIP, to: &buffer)
            write(entry.transport, to: &buffer)
            write(entry.operation, to: &buffer)
            buffer.writeInteger(UInt16(clamping: entry.keyARNs.count))
            for arn in entry.keyARNs.prefix(Int(UInt16.max)) { write(arn, to: &buffer) }
            write(optional: entry.alias, to: &buffer)
            if let context = entry.encryptionContext {
                buffer.writeInteger(UInt8(1))
                buffer.writeInteger(UInt16(clamping: context.count))
                for (key, value) in context.prefix(Int(UInt16.max)) {
                    write(key, to: &buffer)
                    write(value, to: &buffer)
                }
            } else {
                buffer.writeInteger(UInt8(0))
            }
            write(optional: entry.grantID, to: &buffer)
            write(optional: entry.errorCode, to: &buffer)
            buffer.writeBytes(record.previousHash)
            buffer.writeBytes(record.hash)
        }
        return buffer
    }

    /// The records of a segment of `chain` whose first sequence number is `firstSequence`.
    public static func decode(_ stored: ByteBuffer, chain: String, firstSequence: Int64) throws(Unreadable)
        -> [AuditRecord]
    {
        var buffer = stored
        guard buffer.readInteger(as: UInt8.self) == Self.version else {
            throw Unreadable(chain: chain, firstSequence: firstSequence)
        }
        var records: [AuditRecord] = []
        while buffer.readableBytes > 0 {
            guard let record = readRecord(&buffer, chain: chain) else {
                throw Unreadable(chain: chain, firstSequence: firstSequence)
            }
            records.append(record)
        }
        // The writer never stores an empty segment: one is bytes cut short.
        guard !records.isEmpty else { throw Unreadable(chain: chain, firstSequence: firstSequence) }
        return records
    }

    private static func readRecord(_ buffer: inout ByteBuffer, chain: String) -> AuditRecord? {
        // A time no clock wrote (past ±2^53 µs, ±285 years from 1970) is refused: near Int64's
        // ends, hashing the record for verification trapped converting it back (found by fuzzing).
        guard let sequence = buffer.readInteger(as: Int64.self), let micros = buffer.readInteger(as: Int64.self),
            micros.magnitude <= 1 << 53,
            let requestID = read(&buffer), let principal = read(&buffer),
            let accessKey = readOptional(&buffer), let sourceIP = readOptional(&buffer),
            let transport = read(&buffer), let operation = read(&buffer),
            let arnCount = buffer.readInteger(as: UInt16.self)
        else { return nil }
        var arns: [String] = []
        for _ in 0..<arnCount {
            guard let arn = read(&buffer) else { return nil }
            arns.append(arn)
        }
        guard let alias = readOptional(&buffer), let hasContext = buffer.readInteger(as: UInt8.self), hasContext <= 1
        else { return nil }
        var context: [String: String]?
        if hasContext == 1 {
            guard let count = buffer.readInteger(as: UInt16.self) else { return nil }
            var pairs: [String: String] = [:]
            for _ in 0..<count {
                guard let key = read(&buffer), let value = read(&buffer) else { return nil }
                pairs[key] = value
            }
            context = pairs
        }
        guard let grantID = readOptional(&buffer), let errorCode = readOptional(&buffer),
            let previous = buffer.readBytes(length: hashLength), let hash = buffer.readBytes(length: hashLength)
        else { return nil }
        let entry = AuditEntry(
            time: Date(timeIntervalSince1970: Double(micros) / 1_000_000), requestID: requestID,
            principalARN: principal,
            accessKeyID: accessKey, sourceIP: sourceIP, transport: transport, operation: operation, keyARNs: arns,
            alias: alias, encryptionContext: context, grantID: grantID, errorCode: errorCode
        )
        return AuditRecord(chain: chain, sequence: sequence, entry: entry, previousHash: previous, hash: hash)
    }

    private static func write(_ text: String, to buffer: inout ByteBuffer) {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        let written = buffer.writeString(text)
        buffer.setInteger(UInt32(written), at: lengthIndex)
    }

    private static func write(optional text: String?, to buffer: inout ByteBuffer) {
        guard let text else {
            buffer.writeInteger(UInt8(0))
            return
        }
        buffer.writeInteger(UInt8(1))
        write(text, to: &buffer)
    }

    private static func read(_ buffer: inout ByteBuffer) -> String? {
        guard let length = buffer.readInteger(as: UInt32.self), Int(length) <= buffer.readableBytes else { return nil }
        return buffer.readString(length: Int(length))
    }

    /// Nil when unreadable; `.some(nil)` when absent.
    private static func readOptional(_ buffer: inout ByteBuffer) -> String?? {
        switch buffer.readInteger(as: UInt8.self) {
        case 0: return .some(nil)
        case 1: return read(&buffer).map { .some($0) }
        default: return nil
        }
    }
}
