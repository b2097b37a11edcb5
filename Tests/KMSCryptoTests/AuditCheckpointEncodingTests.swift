import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import Testing

/// Stored checkpoints were MACed over these bytes under this key: a change to either would make
/// every checkpoint fail verification, so both are pinned. The expected values were computed
/// apart from this code (Python's hmac and hashlib, from the layout in AuditCheckpoint.message).
@Suite struct AuditCheckpointEncodingTests {
    static let root = RootKey(
        id: RootKeyID(UUID(uuidString: "00112233-4455-6677-8899-aabbccddeeff")!),
        createdAt: Date(timeIntervalSince1970: 0),
        key: SymmetricKey(data: Array(0..<32) as [UInt8])
    )
    static let checkpoint = AuditCheckpoint(
        chain: "replica-a", number: 7, sequence: 1234, recordHash: Array(0x20..<0x40),
        microseconds: 1_764_400_000_123_456,
        previousMAC: Array(0x40..<0x60)
    )

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func theEncodingAndTheMACOfAKnownCheckpointArePinned() throws {
        #expect(
            Self.hex(try Self.checkpoint.message())
                == "4b4d532d41554449542d434845434b504f494e5401000000097265706c6963612d61"
                + "000000000000000700000000000004d2202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                + "000644b6633fc240404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f")
        let mac = try Self.checkpoint.mac(under: Self.root)
        #expect(Self.hex(mac) == "c4a363a3aa5daa764fc9440959358cba99d3c5c0c7455310e3f22f0316025130")
        #expect(try Self.checkpoint.isValid(mac: mac, under: Self.root))
    }

    @Test func everyFieldCountsAndEachRootKeyHasItsOwnKey() throws {
        let mac = try Self.checkpoint.mac(under: Self.root)
        var changes: [AuditCheckpoint] = []
        for change in 0..<6 {
            var other = Self.checkpoint
            switch change {
            case 0: other.chain = "replica-b"
            case 1: other.number = 8
            case 2: other.sequence = 1235
            case 3: other.recordHash[31] ^= 1
            case 4: other.microseconds += 1
            default: other.previousMAC[0] ^= 1
            }
            changes.append(other)
        }
        for other in changes { #expect(try !other.isValid(mac: mac, under: Self.root)) }
        #expect(try !Self.checkpoint.isValid(mac: mac, under: RootKey.generate()))
        #expect(try !Self.checkpoint.isValid(mac: Array(mac.dropLast()), under: Self.root))
    }

    @Test func malformedCheckpointsAreRefusedNotEncoded() {
        var bad: [AuditCheckpoint] = []
        for change in 0..<9 {
            var other = Self.checkpoint
            switch change {
            case 0: other.chain = ""
            case 1: other.chain = "no/slashes"
            case 2: other.chain = String(repeating: "a", count: 129)
            case 3: other.number = 0
            case 4: other.sequence = 0
            case 5: other.recordHash = Array(other.recordHash.dropLast())
            case 6: other.previousMAC = AuditCheckpoint.first  // only checkpoint 1 links to nothing
            case 7: other.microseconds = 0
            default: other.number = 1  // checkpoint 1 links to nothing, not to a MAC
            }
            bad.append(other)
        }
        for checkpoint in bad {
            #expect(throws: KMSError.self) { try checkpoint.message() }
            #expect(throws: KMSError.self) { try checkpoint.mac(under: Self.root) }
        }
    }
}
