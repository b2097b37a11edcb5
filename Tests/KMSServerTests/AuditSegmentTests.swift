import Foundation
import KMSAuditChain
import KMSDomain
import KMSStore
import NIOCore
import Testing

/// The stored form of a batch of audit records: what goes in comes out, and bytes changed
/// behind the service's back are an error, never a crash or a different record.
@Suite struct AuditSegmentTests {
    static func record(_ sequence: Int64, _ entry: AuditEntry) -> AuditRecord {
        AuditRecord(
            chain: "replica-a", sequence: sequence, entry: entry,
            previousHash: (0..<32).map { UInt8(truncatingIfNeeded: Int(sequence) &* 7 &+ $0) },
            hash: (0..<32).map { UInt8(truncatingIfNeeded: Int(sequence) &* 13 &+ $0) })
    }

    static let records: [AuditRecord] = [
        record(
            41,
            AuditEntry(
                time: Date(timeIntervalSince1970: 1_764_400_000.123456),
                requestID: "8f0c5a1e-0000-8000-8000-000000000001",
                principalARN: "arn:aws:iam::111122223333:user/ops", accessKeyID: "AKIAEXAMPLE000000001",
                sourceIP: "2001:db8::7",
                transport: "aws-json", operation: "ReEncrypt",
                keyARNs: [
                    "arn:aws:kms:us-east-1:111122223333:key/0b0e5a2c-5b1f-4a51-9d57-1c2f3e4d5a6b",
                    "arn:aws:kms:us-east-1:111122223333:key/7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                ],
                alias: "alias/app",
                encryptionContext: ["tenant": "zürich 🔐", "": "", "purpose": String(repeating: "x", count: 3000)],
                grantID: "a1b2c3", errorCode: nil
            )),
        // Absent and empty differ; no key, an empty context, an error.
        record(
            42,
            AuditEntry(
                time: Date(timeIntervalSince1970: 1_764_400_000.5), requestID: "", principalARN: "anonymous",
                accessKeyID: nil,
                sourceIP: nil, transport: "binary", operation: "Decrypt", keyARNs: [], alias: "",
                encryptionContext: [:],
                grantID: nil, errorCode: "AccessDeniedException"
            )),
    ]

    @Test func recordsComeBackAsTheyWent() throws {
        let stored = AuditSegment.encode(Self.records)
        #expect(try AuditSegment.decode(stored, chain: "replica-a", firstSequence: 41) == Self.records)
        // The writer never stores an empty segment, so one is not read as "no records".
        #expect(throws: AuditSegment.Unreadable.self) {
            _ = try AuditSegment.decode(AuditSegment.encode([]), chain: "replica-a", firstSequence: 1)
        }
    }

    @Test func cutOrChangedBytesAreUnreadableNeverACrash() throws {
        let stored = Array(AuditSegment.encode(Self.records).readableBytesView)
        // Every cut short of the whole, except right after a record, which is a shorter segment.
        let first = Array(AuditSegment.encode([Self.records[0]]).readableBytesView)
        for length in 0..<stored.count where length != first.count {
            #expect(throws: AuditSegment.Unreadable.self) {
                _ = try AuditSegment.decode(ByteBuffer(bytes: stored[..<length]), chain: "c", firstSequence: 41)
            }
        }
        // Another version byte, a bad optional marker, a length past the end.
        var changed = stored
        changed[0] = 2
        #expect(throws: AuditSegment.Unreadable.self) {
            _ = try AuditSegment.decode(ByteBuffer(bytes: changed), chain: "c", firstSequence: 41)
        }
        changed = stored
        changed[1 + 8 + 8 + 4 + 36 + 4 + 34] = 7  // the access key id's presence byte
        #expect(throws: AuditSegment.Unreadable.self) {
            _ = try AuditSegment.decode(ByteBuffer(bytes: changed), chain: "c", firstSequence: 41)
        }
        changed = stored
        changed.replaceSubrange(17..<21, with: [0xFF, 0xFF, 0xFF, 0xFF])  // the request id's length
        #expect(throws: AuditSegment.Unreadable.self) {
            _ = try AuditSegment.decode(ByteBuffer(bytes: changed), chain: "c", firstSequence: 41)
        }
        // A time near Int64's ends (a rewritten row): unreadable, where hashing it trapped.
        for micros: Int64 in [.max, .min, (1 << 53) + 1] {
            changed = stored
            changed.replaceSubrange(9..<17, with: withUnsafeBytes(of: micros.bigEndian, Array.init))
            #expect(throws: AuditSegment.Unreadable.self) {
                _ = try AuditSegment.decode(ByteBuffer(bytes: changed), chain: "c", firstSequence: 41)
            }
        }
        // Random bytes after a valid version byte: unreadable or some records, never a trap.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let noise =
                [UInt8(1)]
                + (0..<Int.random(in: 0..<200, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            _ = try? AuditSegment.decode(ByteBuffer(bytes: noise), chain: "c", firstSequence: 1)
        }
    }
}
