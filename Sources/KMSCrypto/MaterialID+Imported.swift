import Crypto
import KMSDomain

extension MaterialID {
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
}
