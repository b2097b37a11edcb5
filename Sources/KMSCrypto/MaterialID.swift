import Crypto
import KMSDomain

/// The id of one version of a key's material: 32 random bytes, shown as 64 lowercase hex
/// digits (AWS's KeyMaterialId). Not secret.
public struct MaterialID: Sendable, Hashable, CustomStringConvertible {
    /// The length of every material id in bytes.
    public static let byteCount = 32
    /// The id's 32 bytes, as ciphertext blobs and stored rows carry them.
    public let bytes: [UInt8]

    /// An id from its bytes; throws ValidationException unless there are exactly `byteCount`.
    public init(bytes: some Collection<UInt8>) throws(KMSError) {
        guard bytes.count == Self.byteCount else {
            throw .validation("a key material id is \(Self.byteCount) bytes, not \(bytes.count)")
        }
        self.bytes = Array(bytes)
    }

    /// A fresh id for generated material.
    public static func random() -> MaterialID {
        var generator = SystemRandomNumberGenerator()
        return try! MaterialID(bytes: (0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The id of imported material: a hash of the material bound to the key's ARN, so that
    /// importing the same material into the same key again gives the same id (AWS allows
    /// re-importing only the material a key first had), and anything else a different one.
    /// Imported material must be full-entropy key material, so the hash reveals nothing usable.
    public static func imported(_ material: [UInt8], keyARN: String) -> MaterialID {
        var hash = SHA256()
        hash.update(data: Array("kms/imported-material-id/v1".utf8))
        var length = UInt32(keyARN.utf8.count).bigEndian
        withUnsafeBytes(of: &length) { hash.update(bufferPointer: $0) }
        hash.update(data: Array(keyARN.utf8))
        hash.update(data: material)
        return try! MaterialID(bytes: Array(hash.finalize()))
    }

    /// 64 lowercase hex digits, AWS's KeyMaterialId form.
    public var hex: String { Hex.encode(self.bytes) }

    /// The same as `hex`.
    public var description: String { self.hex }
}
