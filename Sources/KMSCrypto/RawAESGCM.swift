import Crypto
import Foundation
import KMSDomain

/// AES-256-GCM with the parts apart (nonce, ciphertext, tag) and the AAD the caller gives, as
/// the AWS External Key Store proxy API hands them over. The AES key is derived from the key's
/// material for this use alone, HKDF-SHA256(material, info = domain | key id | material id),
/// so that the same material never keys two constructions (SymmetricCiphertext's blobs derive
/// theirs with another domain and a salt). One derived key per material version takes random
/// 12-byte nonces: past about 2^32 messages under one version the key should be rotated,
/// as for any AES-GCM key.
public enum RawAESGCM {
    /// The nonce is always this long here. The API allows 16 too, but we never make one, so a
    /// 16-byte IV cannot authenticate: `open` refuses it as it would any wrong IV
    /// (InvalidCiphertextException, the spec's answer), without trying.
    public static let nonceLength = 12
    /// The tag's length.
    public static let tagLength = 16
    static let domain = Array("kms/xks-aes-gcm/v1".utf8)

    /// Encrypts `plaintext` with a random nonce; returns (nonce, ciphertext, tag).
    public static func seal(
        _ plaintext: some DataProtocol, aad: some DataProtocol, material: SymmetricKey, keyID: KeyID,
        materialID: MaterialID
    ) throws(KMSError) -> (nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        let key = Self.key(material: material, keyID: keyID, materialID: materialID)
        do {
            let box = try AES.GCM.seal(plaintext, using: key, nonce: AES.GCM.Nonce(), authenticating: aad)
            return (Array(box.nonce), Array(box.ciphertext), Array(box.tag))
        } catch {
            throw .internalFailure("AES-GCM encryption failed")
        }
    }

    /// Decrypts, or throws InvalidCiphertextException for any part (nonce, ciphertext, tag,
    /// AAD) that does not authenticate; one message for all, since which it was is not the caller's to learn.
    public static func open(
        ciphertext: some DataProtocol, nonce: some DataProtocol, tag: some DataProtocol, aad: some DataProtocol,
        material: SymmetricKey, keyID: KeyID, materialID: MaterialID
    ) throws(KMSError) -> [UInt8] {
        guard nonce.count == nonceLength, tag.count == tagLength else {
            throw .invalidCiphertext("the initialization vector or the authentication tag has the wrong length")
        }
        let key = Self.key(material: material, keyID: keyID, materialID: materialID)
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
            return Array(try AES.GCM.open(box, using: key, authenticating: aad))
        } catch {
            throw .invalidCiphertext("the ciphertext, its initialization vector, tag or AAD is not valid")
        }
    }

    static func key(material: SymmetricKey, keyID: KeyID, materialID: MaterialID) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: material, info: domain + keyID.bytes + materialID.bytes, outputByteCount: 32)
    }
}
