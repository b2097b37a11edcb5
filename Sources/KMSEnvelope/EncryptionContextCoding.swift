/// The encryption context as the header's AAD field carries it: a pair count, then each key and
/// value with a two-byte length, sorted by the keys' UTF-8 bytes; nothing at all when empty.
enum EncryptionContextCoding {
    /// The context key of a signed message's ECDSA public key (compressed point, base64).
    static let publicKeyName = "aws-crypto-public-key"
    /// Keys the SDKs keep for themselves; a caller's context may not use them.
    static let reservedPrefix = "aws-crypto-"

    static func serialize(_ context: [String: String]) throws(EnvelopeError) -> [UInt8] {
        guard !context.isEmpty else { return [] }
        guard context.count <= Int(UInt16.max) else {
            throw .invalidEncryptionContext("more than \(UInt16.max) pairs")
        }
        var writer = ByteWriter()
        writer.append(UInt16(context.count))
        let pairs = context.map { (Array($0.key.utf8), Array($0.value.utf8)) }.sorted {
            $0.0.lexicographicallyPrecedes($1.0)
        }
        for (key, value) in pairs {
            guard !key.isEmpty, key.count <= Int(UInt16.max), value.count <= Int(UInt16.max) else {
                throw .invalidEncryptionContext("a key is empty, or a key or value is longer than \(UInt16.max) bytes")
            }
            writer.appendShortPrefixed(key)
            writer.appendShortPrefixed(value)
        }
        guard writer.bytes.count <= Int(UInt16.max) else {
            throw .invalidEncryptionContext("longer than \(UInt16.max) bytes once serialized")
        }
        return writer.bytes
    }

    /// Reads a context that the AAD field's length said is `bytes`: every byte is used, keys are
    /// valid UTF-8 and none repeats.
    static func parse(_ bytes: [UInt8]) throws(EnvelopeError) -> [String: String] {
        guard !bytes.isEmpty else { return [:] }
        var reader = ByteReader(bytes)
        var context: [String: String] = [:]
        do {
            let count = try reader.readUInt16()
            guard count > 0 else {
                throw EnvelopeError.malformedMessage("an encryption context of zero pairs is not empty")
            }
            for _ in 0..<count {
                guard let key = String(validating: try reader.readShortPrefixed(), as: UTF8.self),
                    let value = String(validating: try reader.readShortPrefixed(), as: UTF8.self)
                else { throw EnvelopeError.malformedMessage("an encryption context entry is not UTF-8") }
                guard context.updateValue(value, forKey: key) == nil else {
                    throw EnvelopeError.malformedMessage("the encryption context repeats a key")
                }
            }
        } catch let error as EnvelopeError {
            throw error
        } catch {
            throw .malformedMessage("the encryption context is truncated")
        }
        guard reader.remaining == 0 else { throw .malformedMessage("bytes after the encryption context's pairs") }
        return context
    }
}
