import Crypto
import KMSDomain

/// A checkpoint of an audit chain's head: kms-cryptod's MAC over the chain id, the checkpoint's
/// number in that chain, the last record it covers (sequence and hash), its time and the MAC of
/// the chain's checkpoint before it. The record hash covers every record before it (AuditChain),
/// so one checkpoint vouches for the whole chain up to it; the previous MAC links the
/// checkpoints, so one verified checkpoint also vouches for the stored MACs before it.
///
/// Whoever holds the database can rewrite records and hashes, but not a MAC: the key is derived
/// from a root key and exists only inside kms-cryptod. And the worker MACs only this fixed
/// encoding of these fields, never bytes a caller chose, so it is no general MAC oracle.
public struct AuditCheckpoint: Sendable, Hashable {
    /// The chain id, as `AuditRecord.isValidChain(_:)` allows; `message()` refuses any other.
    public var chain: String
    /// 1, 2, ... within the chain.
    public var number: Int64
    /// The last record covered (at least 1).
    public var sequence: Int64
    /// That record's hash (32 bytes).
    public var recordHash: [UInt8]
    /// When kms-cryptod made it, microseconds since 1970.
    public var microseconds: Int64
    /// The chain's previous checkpoint's MAC; `AuditCheckpoint.first` for number 1.
    public var previousMAC: [UInt8]

    /// The length of a checkpoint MAC (HMAC-SHA256) in bytes.
    public static let macLength = 32
    /// What checkpoint 1 links to.
    public static let first = [UInt8](repeating: 0, count: 32)
    static let label = Array("KMS-AUDIT-CHECKPOINT".utf8)
    static let version: UInt8 = 1

    /// A checkpoint's fields, unchecked: `message()` validates them.
    public init(
        chain: String, number: Int64, sequence: Int64, recordHash: [UInt8], microseconds: Int64, previousMAC: [UInt8]
    ) {
        self.chain = chain
        self.number = number
        self.sequence = sequence
        self.recordHash = recordHash
        self.microseconds = microseconds
        self.previousMAC = previousMAC
    }

    /// The bytes the MAC covers (version 1, big-endian): the label "KMS-AUDIT-CHECKPOINT", the
    /// version byte, the chain id (u32 length, UTF-8), the number (u64), the sequence (u64), the
    /// record hash (32 bytes), the time (i64 microseconds) and the previous MAC (32 bytes).
    /// Anything out of shape is refused rather than encoded.
    public func message() throws(KMSError) -> [UInt8] {
        guard AuditRecord.isValidChain(self.chain) else {
            throw .validation("chain_id must be 1..128 of letters, digits, '.', '_' and '-'")
        }
        guard self.number >= 1 else { throw .validation("number must be at least 1") }
        guard self.sequence >= 1 else { throw .validation("sequence must be at least 1") }
        guard self.recordHash.count == 32 else { throw .validation("record_hash must be 32 bytes") }
        guard self.microseconds > 0 else { throw .validation("time_micros must be after 1970") }
        guard self.previousMAC.count == Self.macLength else { throw .validation("previous_mac must be 32 bytes") }
        // Checkpoint 1 links to nothing, every later one to a MAC.
        guard (self.number == 1) == (self.previousMAC == Self.first) else {
            throw .validation("previous_mac must be 32 zero bytes for checkpoint 1, and only for it")
        }
        var bytes = Self.label
        bytes.reserveCapacity(Self.label.count + 1 + 4 + self.chain.utf8.count + 8 + 8 + 32 + 8 + 32)
        bytes.append(Self.version)
        bytes.appendBigEndian(UInt32(self.chain.utf8.count))
        bytes.append(contentsOf: self.chain.utf8)
        bytes.appendBigEndian(UInt64(self.number))
        bytes.appendBigEndian(UInt64(self.sequence))
        bytes.append(contentsOf: self.recordHash)
        bytes.appendBigEndian(UInt64(bitPattern: self.microseconds))
        bytes.append(contentsOf: self.previousMAC)
        return bytes
    }

    /// The checkpoint key of a root key: HKDF-SHA256 over it, with a label and the root key's id
    /// as info, so it serves this purpose only and each root key has its own.
    static func key(_ root: RootKey) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: root.key, salt: Array("kms audit checkpoint key".utf8),
            info: Self.label + [Self.version] + root.id.bytes, outputByteCount: 32
        )
    }

    /// HMAC-SHA256 of `message()` under `root`'s checkpoint key.
    public func mac(under root: RootKey) throws(KMSError) -> [UInt8] {
        let message = try self.message()
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: Self.key(root)))
    }

    /// Whether `mac` is this checkpoint's MAC under `root` (constant-time; a MAC of the wrong
    /// length is simply false).
    public func isValid(mac: [UInt8], under root: RootKey) throws(KMSError) -> Bool {
        let message = try self.message()
        guard mac.count == Self.macLength else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: message, using: Self.key(root))
    }
}
