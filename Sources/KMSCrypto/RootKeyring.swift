import Crypto
import Foundation
import KMSDomain

/// One root key: the AES-256 key that wraps key material. Held only by kms-cryptod.
public struct RootKey: Sendable {
    /// The root key's id, written into every blob it wraps so that unwrapping finds it.
    public let id: RootKeyID
    /// When the key was generated, to the second once it has been through the keyring file.
    public let createdAt: Date
    /// The 256-bit AES key; only kms-cryptod holds it.
    public let key: SymmetricKey

    /// A root key from its parts; `key` must be 256 bits (a precondition).
    public init(id: RootKeyID, createdAt: Date, key: SymmetricKey) {
        precondition(key.bitCount == 256, "root keys are 256-bit")
        self.id = id
        self.createdAt = createdAt
        self.key = key
    }

    /// A new root key with a random id and key.
    public static func generate(now: Date = Date()) -> RootKey {
        RootKey(id: RootKeyID(UUID()), createdAt: now, key: SymmetricKey(size: .bits256))
    }
}

/// The root keys a worker holds, oldest first. New material is wrapped under the newest; any
/// of them unwraps what it wrapped, so old material keeps working after a rotation.
public struct RootKeyring: Sendable {
    /// The root keys, oldest first; never empty.
    public private(set) var keys: [RootKey]

    /// A keyring of `keys`, oldest first; a precondition refuses an empty list.
    public init(keys: [RootKey]) {
        precondition(!keys.isEmpty, "a keyring holds at least one root key")
        self.keys = keys
    }

    /// The most recently added key.
    public var newest: RootKey { self.keys[self.keys.count - 1] }

    /// The key new material, secrets, import tokens and audit checkpoints are wrapped or
    /// MACed under: the newest, unless `pinned(to:)` chose an older one. Every key of the ring
    /// unwraps whatever it wrapped either way.
    public var active: RootKey { self.activeID.flatMap { self.key(id: $0) } ?? self.newest }

    /// The key chosen to stay active although newer keys were added (nil: the newest).
    public private(set) var activeID: RootKeyID?

    /// This keyring with `id` as its active key, or nil when it holds no such key. Several
    /// kms-cryptod rotating one keyring stage the new key this way: each first holds it (and
    /// can unwrap what it wraps) while still wrapping under the old one; only once every
    /// process holds it is the pin dropped, so that no process ever meets material wrapped
    /// under a key it does not have.
    public func pinned(to id: RootKeyID) -> RootKeyring? {
        guard self.key(id: id) != nil else { return nil }
        var ring = self
        ring.activeID = id
        return ring
    }

    /// The root key with id `id`, or nil when the keyring does not hold it.
    public func key(id: RootKeyID) -> RootKey? {
        self.keys.last { $0.id == id }
    }

    /// Removes a root key that is not the newest; false when there is no such key or it is
    /// the newest (new material is always wrapped under the newest).
    public mutating func remove(id: RootKeyID) -> Bool {
        guard let index = self.keys.firstIndex(where: { $0.id == id }), index != self.keys.count - 1 else {
            return false
        }
        self.keys.remove(at: index)
        return true
    }

    /// Adds `key` as the newest: material is wrapped under it from now on.
    public mutating func add(_ key: RootKey) {
        self.keys.append(key)
    }
}

/// The keyring file's bytes: a magic and version, the key count, then per key its 16-byte id,
/// its creation time (big-endian seconds since 1970) and its 32 bytes, and last a SHA-256 over
/// all of that, so that a truncated or damaged file is refused rather than half loaded.
public enum RootKeyringEncoding {
    static let magic = Array("KMS-ROOT-KEYRING".utf8) + [1]
    static let entryLength = 16 + 8 + 32

    /// The keyring file's bytes for `keyring`; they hold the root keys in the clear, so the caller should zero them.
    public static func encode(_ keyring: RootKeyring) -> [UInt8] {
        var out = magic
        out.appendBigEndian(UInt32(keyring.keys.count))
        for root in keyring.keys {
            out.append(contentsOf: root.id.bytes)
            out.appendBigEndian(Int64(root.createdAt.timeIntervalSince1970.rounded(.down)))
            root.key.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: SHA256.hash(data: out))
        return out
    }

    /// Decodes a keyring. The caller should zero `bytes` afterwards.
    public static func decode(_ bytes: [UInt8]) throws(KMSError) -> RootKeyring {
        let headerLength = magic.count + 4
        guard bytes.count >= headerLength + 32, bytes.starts(with: magic) else {
            throw .validation("not a root keyring file (bad magic or version)")
        }
        let body = bytes[..<(bytes.count - 32)]
        let checksum = bytes[(bytes.count - 32)...]
        guard Array(SHA256.hash(data: body)) == Array(checksum) else {
            throw .validation("the root keyring file is damaged (checksum mismatch)")
        }
        let count = Int(bytes.readBigEndian(UInt32.self, at: magic.count))
        guard count > 0, body.count == headerLength + count * entryLength else {
            throw .validation("the root keyring file is damaged (length does not match \(count) keys)")
        }
        var keys: [RootKey] = []
        for index in 0..<count {
            let start = headerLength + index * entryLength
            let id = RootKeyID(bytes: bytes[start..<(start + 16)])
            let seconds = bytes.readBigEndian(Int64.self, at: start + 16)
            // A time the encoder wrote is exact as a Double; past 2^53 s it would not be, and
            // near Int64.max encoding it again trapped (found by fuzzing).
            guard seconds.magnitude <= 1 << 53 else {
                throw .validation("the root keyring file is damaged (key \(index + 1) has an impossible creation time)")
            }
            let key = SymmetricKey(data: bytes[(start + 24)..<(start + 56)])
            keys.append(RootKey(id: id, createdAt: Date(timeIntervalSince1970: TimeInterval(seconds)), key: key))
        }
        return RootKeyring(keys: keys)
    }
}

extension Array where Element == UInt8 {
    func readBigEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        for byte in self[offset..<(offset + MemoryLayout<T>.size)] {
            value = value << 8 | T(byte)
        }
        return value
    }
}
