import KMSDomain

/// The canonical byte form of an encryption context, authenticated (not encrypted) with every
/// ciphertext: the pair count, then each pair sorted by key (UTF-8 byte order), each string
/// length-prefixed, so that no two different contexts share an encoding.
public enum EncryptionContextEncoding {
    /// Validates and encodes `context`. Throws ValidationException past the size limit.
    public static func canonicalBytes(_ context: [String: String]) throws(KMSError) -> [UInt8] {
        if context.isEmpty { return [0, 0, 0, 0] }
        var total = 0
        var pairs: [(key: [UInt8], value: [UInt8])] = []
        pairs.reserveCapacity(context.count)
        for (key, value) in context {
            let k = Array(key.utf8)
            let v = Array(value.utf8)
            total += k.count + v.count
            pairs.append((k, v))
        }
        guard total <= Limits.encryptionContextBytes else {
            throw .validation(
                "the encryption context is \(total) bytes; at most \(Limits.encryptionContextBytes) are allowed")
        }
        pairs.sort { $0.key.lexicographicallyPrecedes($1.key) }
        var out: [UInt8] = []
        out.reserveCapacity(4 + total + 8 * pairs.count)
        out.appendBigEndian(UInt32(pairs.count))
        for pair in pairs {
            out.appendBigEndian(UInt32(pair.key.count))
            out.append(contentsOf: pair.key)
            out.appendBigEndian(UInt32(pair.value.count))
            out.append(contentsOf: pair.value)
        }
        return out
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { self.append(contentsOf: $0) }
    }
}
