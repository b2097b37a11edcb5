import Foundation
import KMSAuditChain
import KMSDomain
import Testing

/// Stored audit records were hashed by this code; a change to the hash's bytes would make every
/// existing chain fail verification, so its output is pinned.
@Suite struct AuditChainTests {
    static let entry = AuditEntry(
        time: Date(timeIntervalSince1970: 1_764_400_000.123456), requestID: "0f0e0d0c-0b0a-4908-8706-050403020100",
        principalARN: "arn:aws:iam::111122223333:user/admin", accessKeyID: "AKIAEXAMPLEEXAMPLE01",
        sourceIP: "127.0.0.1",
        transport: "binary", operation: "Decrypt",
        keyARNs: ["arn:aws:kms:us-east-1:111122223333:key/0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11"],
        alias: nil, encryptionContext: ["bucket": "logs", "app": "web"], grantID: nil, errorCode: nil
    )

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func theHashOfAKnownRecordIsPinned() {
        let digest = AuditChain.hash(sequence: 42, entry: Self.entry, previous: AuditChain.genesis)
        #expect(Self.hex(digest) == "9583579605bd74d5e846a7d9ed40b5147710ed10a4094cb4c4cd54d7458738ad")
    }

    @Test func linkedRecordsFollowTheirPredecessorAndVerify() {
        var second = Self.entry
        second.operation = "Encrypt"
        let earlier = AuditChain.hash(sequence: 41, entry: second, previous: AuditChain.genesis)
        let start = (sequence: Int64(41), hash: earlier)
        let (records, last) = AuditChain.link([Self.entry, second], chain: "a", after: start)
        #expect(records.map(\.sequence) == [42, 43])
        #expect(records.allSatisfy { $0.chain == "a" })
        #expect(records[0].previousHash == start.hash && records[1].previousHash == records[0].hash)
        #expect(records[0].hash == AuditChain.hash(sequence: 42, entry: Self.entry, previous: start.hash))
        #expect(last.sequence == 43 && last.hash == records[1].hash)
        #expect(AuditChain.firstBreak(in: records, after: start) == nil)
        let none = AuditChain.link([AuditEntry](), chain: "a", after: start)
        #expect(none.records.isEmpty && none.last.sequence == 41 && none.last.hash == start.hash)
    }

    @Test func everyFieldAndThePreviousHashCount() {
        let base = AuditChain.hash(sequence: 42, entry: Self.entry, previous: AuditChain.genesis)
        var other = Self.entry
        other.errorCode = ""
        // Absent and empty differ.
        #expect(AuditChain.hash(sequence: 42, entry: other, previous: AuditChain.genesis) != base)
        #expect(AuditChain.hash(sequence: 43, entry: Self.entry, previous: AuditChain.genesis) != base)
        #expect(AuditChain.hash(sequence: 42, entry: Self.entry, previous: [UInt8](repeating: 1, count: 32)) != base)
    }
}
