import Crypto
import Foundation
import KMSDomain

/// The ciphertext blob of a SYMMETRIC_DEFAULT key:
///
///     version (1) | key id (16) | material id (32) | salt (16) | nonce (12) | ciphertext | tag (16)
///
/// Each message gets its own AES-256-GCM key, HKDF-SHA256(material, salt, info = domain | key id |
/// material id), so the random-nonce limit of one GCM key never binds a busy KMS key. The AAD is
/// the header followed by the canonical encryption context. The blob names its key and material,
/// so Decrypt needs no key id.
public enum SymmetricCiphertext {
    /// The format's version byte, the blob's first.
    public static let version: UInt8 = 1
    /// Bytes of the per-message HKDF salt.
    public static let saltLength = 16
    /// Bytes of the AES-GCM nonce.
    public static let nonceLength = 12
    /// Bytes of the AES-GCM tag that ends the blob.
    public static let tagLength = 16
    /// Bytes before the ciphertext: version, key id, material id, salt and nonce.
    public static let headerLength = 1 + 16 + MaterialID.byteCount + saltLength + nonceLength
    /// The bytes a blob adds to its plaintext.
    public static let overhead = headerLength + tagLength
    static let domain = Array("kms/symmetric-ciphertext/v1".utf8)

    /// What a blob's header says; readable without any key (kmsd reads it to find the key).
    public struct Header: Sendable, Equatable {
        /// The key the blob was made under.
        public let keyID: KeyID
        /// The version of that key's material that sealed it.
        public let materialID: MaterialID

        /// A header's contents (the other blob formats name key and material the same way).
        public init(keyID: KeyID, materialID: MaterialID) {
            self.keyID = keyID
            self.materialID = materialID
        }
    }

    /// Parses the header. Throws InvalidCiphertextException for anything that is not a blob of
    /// this format.
    public static func header(of blob: [UInt8]) throws(KMSError) -> Header {
        guard blob.count >= overhead, blob[0] == version else {
            throw .invalidCiphertext("the ciphertext is not a blob this service produced (bad length or version)")
        }
        return Header(
            keyID: KeyID(bytes: blob[1..<17]),
            materialID: try MaterialID(bytes: blob[17..<(17 + MaterialID.byteCount)])
        )
    }

    /// Encrypts `plaintext` under a fresh per-message key from `material`, binding `encryptionContext`; throws
    /// ValidationException when the context is over its size limit.
    public static func seal(
        _ plaintext: some DataProtocol,
        keyID: KeyID,
        materialID: MaterialID,
        material: SymmetricKey,
        encryptionContext: [String: String]
    ) throws(KMSError) -> [UInt8] {
        // Salt and nonce from one read of the system's generator (a system call each otherwise).
        try seal(
            plaintext, keyID: keyID, materialID: materialID, material: material, encryptionContext: encryptionContext,
            random: randomBytes(randomLength)[...])
    }

    /// Bytes of fresh randomness a blob takes: its salt, then its nonce.
    package static let randomLength = saltLength + nonceLength

    /// `seal` with salt and nonce from `random` (`randomLength` bytes straight from the system's
    /// generator, never reused), for a caller that draws them together with its own random bytes:
    /// GenerateDataKey reads its data key, salt and nonce in one system call.
    package static func seal(
        _ plaintext: some DataProtocol,
        keyID: KeyID,
        materialID: MaterialID,
        material: SymmetricKey,
        encryptionContext: [String: String],
        random: ArraySlice<UInt8>
    ) throws(KMSError) -> [UInt8] {
        precondition(random.count == randomLength, "a ciphertext takes \(randomLength) random bytes")
        let context = try EncryptionContextEncoding.canonicalBytes(encryptionContext)
        let salt = random.prefix(saltLength)
        let nonce: AES.GCM.Nonce
        do {
            nonce = try AES.GCM.Nonce(data: random.dropFirst(saltLength))
        } catch {
            throw .internalFailure("encryption failed")
        }
        var blob: [UInt8] = []
        blob.reserveCapacity(overhead + plaintext.count)
        blob.append(version)
        blob.append(contentsOf: keyID.bytes)
        blob.append(contentsOf: materialID.bytes)
        blob.append(contentsOf: salt)
        blob.append(contentsOf: nonce)
        let key = messageKey(material: material, salt: salt, keyID: keyID, materialID: materialID)
        let sealed: AES.GCM.SealedBox
        do {
            sealed = try AES.GCM.seal(plaintext, using: key, nonce: nonce, authenticating: blob + context)
        } catch {
            throw .internalFailure("encryption failed")
        }
        blob.append(contentsOf: sealed.ciphertext)
        blob.append(contentsOf: sealed.tag)
        return blob
    }

    /// Opens a blob with the material its header names. The caller checks first that `keyID`
    /// and `materialID` are the key and material it means to use; this checks that the blob
    /// names them too, then authenticates header, context and ciphertext together.
    public static func open(
        _ blob: [UInt8],
        keyID: KeyID,
        materialID: MaterialID,
        material: SymmetricKey,
        encryptionContext: [String: String]
    ) throws(KMSError) -> [UInt8] {
        let header = try header(of: blob)
        guard header.keyID == keyID else {
            throw .incorrectKey("the ciphertext was encrypted under another KMS key")
        }
        guard header.materialID == materialID else {
            throw .invalidCiphertext("the ciphertext names key material that was not supplied")
        }
        let context = try EncryptionContextEncoding.canonicalBytes(encryptionContext)
        let salt = blob[(1 + 16 + MaterialID.byteCount)..<(headerLength - nonceLength)]
        let key = messageKey(material: material, salt: salt, keyID: keyID, materialID: materialID)
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: blob[(headerLength - nonceLength)..<headerLength]),
                ciphertext: blob[headerLength..<(blob.count - tagLength)],
                tag: blob[(blob.count - tagLength)...]
            )
            let aad = Array(blob[..<headerLength]) + context
            return Array(try AES.GCM.open(box, using: key, authenticating: aad))
        } catch {
            // Deliberately one message for a wrong context and a damaged blob: which of the two
            // it was is not the caller's to learn.
            throw .invalidCiphertext("the ciphertext or its encryption context is not valid")
        }
    }

    static func messageKey(material: SymmetricKey, salt: ArraySlice<UInt8>, keyID: KeyID, materialID: MaterialID)
        -> SymmetricKey
    {
        HKDFSHA256.key(material: material, salt: salt, info: domain + keyID.bytes + materialID.bytes)
    }
}

/// Bytes from the system's CSPRNG, in one system call (`SystemRandom`).
public func randomBytes(_ count: Int) -> [UInt8] {
    SystemRandom.bytes(count)
}
