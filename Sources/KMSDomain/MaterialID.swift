/// The id of one version of a key's material: 32 random bytes, shown as 64 lowercase hex
/// digits (AWS's KeyMaterialId). Not secret. The one type a material id has from the worker's
/// answer through the stores and records to the responses; it is bytes only on the wire and in rows.
public struct MaterialID: Sendable, Hashable, CustomStringConvertible {
    /// The length of every material id in bytes.
    public static let byteCount = 32
    /// The id's 32 bytes, as ciphertext blobs and stored rows carry them.
    public let bytes: [UInt8]

    /// An id from its bytes; throws ValidationException unless there are exactly `byteCount`.
    /// Inlinable for the same reason as `KeyID.init(bytes:)`: each Decrypt reads one from its blob.
    @inlinable
    public init(bytes: some Collection<UInt8>) throws(KMSError) {
        guard bytes.count == Self.byteCount else {
            throw .validation("a key material id is \(Self.byteCount) bytes, not \(bytes.count)")
        }
        self.bytes = Array(bytes)
    }

    /// A fresh id for generated material.
    public static func random() -> MaterialID {
        try! MaterialID(bytes: SystemRandom.bytes(byteCount))
    }

    /// 64 lowercase hex digits, AWS's KeyMaterialId form.
    public var hex: String { Hex.encode(self.bytes) }

    /// The same as `hex`.
    public var description: String { self.hex }

    /// The bytes hashed in one call: an array's own hashing feeds its elements one at a time
    /// (each Decrypt finds its material by id).
    public func hash(into hasher: inout Hasher) {
        self.bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
