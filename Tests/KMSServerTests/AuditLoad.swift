import Foundation
import KMSAuditChain
import KMSDomain
import KMSStore
import KMSTestSupport
import Logging
import PostgresNIO

/// A synthetic audit log written straight into the store, in segments as group commits make
/// them: for tests of reading (paging, filters) and for measuring listings over a long log.
/// Seeded, so two runs write the same log.
struct AuditLoad {
    /// SplitMix64: a small seeded generator.
    struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let operations = ["Encrypt", "Decrypt", "GenerateDataKey", "ReEncrypt", "DescribeKey"]
    static let principals = (1...4).map { "arn:aws:iam::111122223333:role/worker-\($0)" }

    static func keyARN(_ index: Int) -> String {
        "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-\(String(format: "%012d", index))"
    }

    /// Appends `count` records in segments of 1 to `maxSegment` records, each segment to one of
    /// `chains` in turn (so segment ids interleave chains, as replicas' do). Each record names
    /// one of `keys` other keys (a ReEncrypt two), and `extra` (key ARN → share of records) in
    /// that share of them; a few fail. Returns the records written, in the order written.
    @discardableResult
    static func append(
        _ database: TestDatabase, chains: [String] = ["load"], count: Int, maxSegment: Int = 40, keys: Int = 500,
        extra: [String: Double] = [:], seed: UInt64 = 1
    ) async throws -> [AuditRecord] {
        let extraKeys = extra.sorted { $0.key < $1.key }
        // A record a millisecond, ending now; whole microseconds, as stored, so times compare exactly.
        let start = (Int64(Date().timeIntervalSince1970 * 1000) - Int64(count)) * 1000
        return try await database.withClient { client in
            var random = Random(state: seed)
            var written: [AuditRecord] = []
            written.reserveCapacity(count)
            let store = AuditStore(client: client, logger: Logger(label: "test"))
            var heads: [AuditStore.Head] = []
            for chain in chains { heads.append(try await store.head(of: chain)) }
            var made = 0
            var segments = 0
            while made < count {
                let size = min(count - made, Int.random(in: 1...maxSegment, using: &random))
                let which = segments % chains.count
                segments += 1
                let chain = chains[which]
                var head = heads[which]
                let expected = head
                var batch: [AuditRecord] = []
                for _ in 0..<size {
                    let operation = operations.randomElement(using: &random)!
                    var arns = [keyARN(Int.random(in: 0..<keys, using: &random))]
                    if operation == "ReEncrypt" { arns.append(keyARN(Int.random(in: 0..<keys, using: &random))) }
                    for (arn, share) in extraKeys where Double.random(in: 0..<1, using: &random) < share {
                        arns.insert(arn, at: 0)
                    }
                    let failed = Int.random(in: 0..<50, using: &random) == 0
                    let entry = AuditEntry(
                        time: Date(
                            timeIntervalSince1970: Double(start + Int64(written.count + batch.count) * 1000) / 1_000_000
                        ),
                        requestID: UUID(uuid: Self.uuid(&random)).uuidString.lowercased(),
                        principalARN: principals.randomElement(using: &random)!, accessKeyID: "AKIAEXAMPLE000000001",
                        sourceIP: "10.0.0.7",
                        transport: "binary", operation: operation, keyARNs: arns, alias: nil,
                        encryptionContext: operation == "DescribeKey"
                            ? nil : ["app": "load", "tenant": "t\(Int.random(in: 0..<9, using: &random))"],
                        grantID: nil, errorCode: failed ? "AccessDeniedException" : nil
                    )
                    let sequence = head.sequence + 1
                    let hash = AuditChain.hash(sequence: sequence, entry: entry, previous: head.hash)
                    batch.append(
                        AuditRecord(chain: chain, sequence: sequence, entry: entry, previousHash: head.hash, hash: hash)
                    )
                    head.sequence = sequence
                    head.hash = hash
                }
                guard try await store.append(batch, expecting: expected) else {
                    throw StoreError.invalid("the synthetic chain \(chain) moved")
                }
                heads[which] = head
                written += batch
                made += size
            }
            return written
        }
    }

    private static func uuid(_ random: inout Random) -> uuid_t {
        let a = random.next()
        let b = random.next()
        func byte(_ value: UInt64, _ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: value >> (8 * index)) }
        return (
            byte(a, 0), byte(a, 1), byte(a, 2), byte(a, 3), byte(a, 4), byte(a, 5), 0x40 | (byte(a, 6) & 0x0F),
            byte(a, 7),
            0x80 | (byte(b, 0) & 0x3F), byte(b, 1), byte(b, 2), byte(b, 3), byte(b, 4), byte(b, 5), byte(b, 6),
            byte(b, 7)
        )
    }
}
