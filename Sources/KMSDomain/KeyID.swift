import struct Foundation.UUID
import typealias Foundation.uuid_t

/// A KMS key's id: a UUID, written in lowercase (in ARNs, answers and records) as AWS writes it;
/// a multi-Region key's is `mrk-` and 32 hex digits (see KeyID+MultiRegion.swift).
/// The one type a key id has from where its text enters (a request, a ciphertext, the worker's
/// protocol, a database row) to where it leaves; it is text only on the wire.
public struct KeyID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The id itself.
    public let uuid: UUID

    /// The id `uuid`.
    public init(_ uuid: UUID) {
        self.uuid = uuid
    }

    /// A new random id, for a key being created.
    public static func random() -> KeyID {
        KeyID(UUID())
    }

    /// Parses the 8-4-4-4-12 hex form, in any case, or a multi-Region key's `mrk-` form; nil when
    /// `text` is neither (a uuid form of a multi-Region id is not its spelling: nil too).
    public init?(_ text: String) {
        if text.hasPrefix("mrk-") {
            guard let id = KeyID(multiRegionText: text) else { return nil }
            self = id
            return
        }
        guard let uuid = Hex.uuid(text) else { return nil }
        self.init(UUID(uuid: uuid))
        if self.isMultiRegion { return nil }
    }

    /// Parses text that must be a key id (not a key reference: see `KeyReference.parse`);
    /// ValidationException when it is not one.
    public init(parsing text: String) throws(KMSError) {
        guard let id = KeyID(text) else {
            throw .validation("'\(text.prefix(64))' is not a key id (a UUID)")
        }
        self = id
    }

    /// The id of the 16 bytes that ciphertexts carry (`bytes`); `bytes` must hold exactly 16.
    /// Inlinable, so that a caller's slice of a blob is read in place: every Decrypt parses one,
    /// and the generic version ran unspecialized in kmsd, with an array made per call.
    @inlinable
    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 16, "a key id is 16 bytes")
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { $0.copyBytes(from: bytes) }
        self.uuid = UUID(uuid: uuid)
    }

    /// The 16 bytes of the UUID, in the order its text form writes them.
    public var bytes: [UInt8] {
        withUnsafeBytes(of: self.uuid.uuid) { Array($0) }
    }

    /// Lowercase, as AWS shows key ids; `mrk-` and the public id for every key of a multi-Region family.
    public var description: String {
        self.isMultiRegion ? self.multiRegionDescription : withUnsafeBytes(of: self.uuid.uuid) { Hex.uuidText($0) }
    }

    /// Byte order, which is PostgreSQL's order of its uuid type (ListKeys pages by it) and also
    /// the order of the lowercase text form (hex digits sort as their ASCII codes).
    public static func < (lhs: KeyID, rhs: KeyID) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    /// Whether `text` is a key id: a UUID in its 8-4-4-4-12 hex form, in any case.
    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                let isHex = (48...57).contains(byte) || (97...102).contains(byte) || (65...70).contains(byte)
                guard isHex else { return false }
            }
        }
        return true
    }
}
