import Crypto
import Foundation

/// Data keys wrapped with AES-GCM under a key the caller holds, as the SDKs' raw AES keyring
/// (Python's `RawMasterKey` with an AES wrapping key, Java's `JceMasterKey` "AES/GCM/NoPadding")
/// wraps them, so that messages are made and read with no KMS at all: for tests, offline use and
/// keys kept elsewhere. Messages it makes decrypt in the other SDKs given the same key, namespace
/// and name, and theirs decrypt here.
///
/// An encrypted data key of this keyring has the key namespace as its provider id; its provider
/// information is the key name, the tag length in bits (128) and the IV length in bytes (12) as
/// four-byte big-endian numbers, then the IV; its ciphertext is the wrapped data key and the tag.
/// The wrapping authenticates the message's encryption context (serialized as in the header),
/// so a data key does not decrypt under another context.
///
///     let keyring = try RawAESKeyring(keyNamespace: "backups", keyName: "2026-01", wrappingKey: key)
///     let envelope = EnvelopeEncryption(keyring: keyring)
public struct RawAESKeyring: EnvelopeKeyring {
    /// The provider id of the encrypted data keys: which family of keys wraps them.
    public let keyNamespace: String
    /// Which key of the namespace: the start of the provider information.
    public let keyName: String
    private let wrappingKey: SymmetricKey

    static let tagBits: UInt32 = 128
    static let ivLength = 12

    /// A keyring over `wrappingKey` (AES-128, -192 or -256). The namespace may not begin with
    /// "aws-kms", which the SDKs keep for KMS keys.
    public init(keyNamespace: String, keyName: String, wrappingKey: SymmetricKey) throws(EnvelopeError) {
        guard [128, 192, 256].contains(wrappingKey.bitCount) else {
            throw .invalidArgument("a raw AES wrapping key is 128, 192 or 256 bits, not \(wrappingKey.bitCount)")
        }
        guard !keyNamespace.isEmpty, !keyName.isEmpty else {
            throw .invalidArgument("a raw AES keyring needs a key namespace and a key name")
        }
        guard !keyNamespace.hasPrefix(KMSKeyring.providerID) else {
            throw .invalidArgument("the key namespace \(keyNamespace) is reserved for KMS keys")
        }
        // Each goes into a field of at most 65,535 bytes; the name with the 20 bytes after it.
        guard keyNamespace.utf8.count <= Int(UInt16.max), keyName.utf8.count <= Int(UInt16.max) - 20 else {
            throw .invalidArgument("the key namespace or key name is too long for a message header")
        }
        self.keyNamespace = keyNamespace
        self.keyName = keyName
        self.wrappingKey = wrappingKey
    }

    /// A random data key of the suite's length, wrapped under a fresh random IV.
    public func generateDataKey(suite: AlgorithmSuite, encryptionContext: [String: String]) async throws
        -> DataKeyMaterials
    {
        let dataKey = SymmetricKey(size: SymmetricKeySize(bitCount: suite.dataKeyLength * 8))
        let aad = try EncryptionContextCoding.serialize(encryptionContext)
        let nonce = AES.GCM.Nonce()
        let plaintext = dataKey.withUnsafeBytes { Array($0) }
        let box = try AES.GCM.seal(plaintext, using: self.wrappingKey, nonce: nonce, authenticating: aad)
        var info = ByteWriter(bytes: Array(self.keyName.utf8))
        info.append(Self.tagBits)
        info.append(UInt32(Self.ivLength))
        info.append(Array(nonce))
        let key = EncryptedDataKey(
            providerID: self.keyNamespace, providerInfo: info.bytes, ciphertext: Array(box.ciphertext + box.tag))
        return DataKeyMaterials(dataKey: dataKey, encryptedDataKeys: [key])
    }

    /// The first encrypted data key of this namespace and key name that unwraps under the
    /// message's context to a data key of the suite's length.
    public func decryptDataKey(
        suite: AlgorithmSuite, encryptionContext: [String: String], encryptedDataKeys: [EncryptedDataKey]
    ) async throws -> SymmetricKey {
        let aad = try EncryptionContextCoding.serialize(encryptionContext)
        let name = Array(self.keyName.utf8)
        var tried = 0
        for key in encryptedDataKeys where key.providerID == self.keyNamespace {
            guard let iv = Self.iv(key.providerInfo, name: name),
                key.ciphertext.count == suite.dataKeyLength + Int(Self.tagBits / 8)
            else { continue }
            tried += 1
            let split = key.ciphertext.count - Int(Self.tagBits / 8)
            guard let nonce = try? AES.GCM.Nonce(data: iv),
                let box = try? AES.GCM.SealedBox(
                    nonce: nonce, ciphertext: key.ciphertext[..<split], tag: key.ciphertext[split...]),
                let plaintext = try? AES.GCM.open(box, using: self.wrappingKey, authenticating: aad)
            else { continue }
            return SymmetricKey(data: plaintext)
        }
        throw EnvelopeError.noDecryptableDataKey(
            tried == 0
                ? "no encrypted data key of namespace \(self.keyNamespace) and key name \(self.keyName)"
                : "\(tried) encrypted data key(s) of \(self.keyNamespace)/\(self.keyName) did not unwrap "
                    + "under this key and the message's encryption context")
    }

    /// The IV of provider information that names `name` with a 128-bit tag and a 12-byte IV.
    private static func iv(_ info: [UInt8], name: [UInt8]) -> [UInt8]? {
        guard info.count == name.count + 8 + Self.ivLength, info.starts(with: name) else { return nil }
        var reader = ByteReader(info, offset: name.count)
        guard (try? reader.readUInt32()) == Self.tagBits, (try? reader.readUInt32()) == UInt32(Self.ivLength),
            let iv = try? reader.read(Self.ivLength)
        else { return nil }
        return Array(iv)
    }
}
