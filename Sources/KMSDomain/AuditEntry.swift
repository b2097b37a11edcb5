import struct Foundation.Date

/// One audit record: who asked what of which key, and what came of it. Never a plaintext, a
/// data key, a signature input or a secret: the encryption context is kept (as CloudTrail
/// keeps it) because it is metadata that callers are told not to put secrets in.
public struct AuditEntry: Sendable, Hashable {
    /// When the request was answered; for a result recorded ahead of its answer, when it was
    /// handed to kms-cryptod.
    public var time: Date
    /// The id the caller was answered with, so a record can be matched to a client's log.
    public var requestID: String
    /// The caller's principal; for a request that failed authentication, what could be told of it.
    public var principalARN: String
    /// The access key the request was signed with; nil when the caller authenticated otherwise.
    public var accessKeyID: String?
    /// The peer's address, when the transport knows it.
    public var sourceIP: String?
    /// "binary" or "aws-json".
    public var transport: String
    /// The AWS operation name ("Encrypt", "CreateKey", ...).
    public var operation: String
    /// The full ARNs of the keys the request touched, in the order it named them; empty when none.
    public var keyARNs: [String]
    /// The alias the request named, when it named one.
    public var alias: String?
    /// The request's encryption context, when it had one.
    public var encryptionContext: [String: String]?
    /// The grant that allowed the request, when a grant rather than a policy did.
    public var grantID: String?
    /// Nil on success.
    public var errorCode: String?

    /// An entry as recorded.
    public init(
        time: Date, requestID: String, principalARN: String, accessKeyID: String?, sourceIP: String?, transport: String,
        operation: String, keyARNs: [String], alias: String?, encryptionContext: [String: String]?, grantID: String?,
        errorCode: String?
    ) {
        self.time = time
        self.requestID = requestID
        self.principalARN = principalARN
        self.accessKeyID = accessKeyID
        self.sourceIP = sourceIP
        self.transport = transport
        self.operation = operation
        self.keyARNs = keyARNs
        self.alias = alias
        self.encryptionContext = encryptionContext
        self.grantID = grantID
        self.errorCode = errorCode
    }

    /// Microseconds since 1970: what PostgreSQL keeps of a timestamp, so the hash is reproducible.
    public var microseconds: Int64 { Int64((self.time.timeIntervalSince1970 * 1_000_000).rounded()) }
}

/// A stored record: its chain (one per writer), its place in it and the hashes that link it.
public struct AuditRecord: Sendable, Hashable {
    /// What the first record of every chain links to.
    public static let genesis = [UInt8](repeating: 0, count: 32)
    /// The chain of the records kept before there was one per writer.
    public static let defaultChain = "default"

    /// The writer's chain id (see `isValidChain(_:)`).
    public var chain: String
    /// The record's position in its chain, from 1 with no gaps.
    public var sequence: Int64
    /// What was recorded.
    public var entry: AuditEntry
    /// `hash` of the chain's previous record, or `genesis` for its first.
    public var previousHash: [UInt8]
    /// The 32-byte hash of this record and `previousHash`, which the next record links to.
    public var hash: [UInt8]

    /// A chain id names a writer (`--audit-chain`): 1 to 128 of letters, digits, `.`, `_`, `-`.
    public static func isValidChain(_ chain: String) -> Bool {
        (1...128).contains(chain.utf8.count)
            && chain.utf8.allSatisfy { byte in
                (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 46
                    || byte == 95 || byte == 45
            }
    }

    /// A record as stored.
    public init(
        chain: String = AuditRecord.defaultChain, sequence: Int64, entry: AuditEntry, previousHash: [UInt8],
        hash: [UInt8]
    ) {
        self.chain = chain
        self.sequence = sequence
        self.entry = entry
        self.previousHash = previousHash
        self.hash = hash
    }
}
