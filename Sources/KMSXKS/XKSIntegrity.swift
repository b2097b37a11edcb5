import Crypto
import Foundation

/// The byte strings both ends must compute alike: the AES-GCM AAD that binds the caller's AAD
/// and the ciphertext metadata, and the ciphertext data integrity value (CDIV).
public enum XKSIntegrity {
    /// The AAD given to AES-GCM: `len16(aad) || aad || len8(metadata) || metadata`, lengths
    /// big-endian. The lengths keep an AAD that ends like some metadata from passing for it
    /// (Encrypt with metadata M and no AAD, Decrypt with AAD M and no metadata).
    public static func gcmAAD(additionalAuthenticatedData aad: Data?, ciphertextMetadata metadata: Data?) -> Data {
        let aad = aad ?? Data()
        let metadata = metadata ?? Data()
        precondition(aad.count <= Int(UInt16.max) && metadata.count <= Int(UInt8.max))
        var out = Data(capacity: 3 + aad.count + metadata.count)
        out.append(UInt8(aad.count >> 8))
        out.append(UInt8(aad.count & 0xff))
        out.append(aad)
        out.append(UInt8(metadata.count))
        out.append(metadata)
        return out
    }

    /// SHA-256 over the request's AAD and the response's metadata, IV, ciphertext and tag, in
    /// that order, absent fields empty (the spec's CDIV, which carries no lengths).
    public static func value(additionalAuthenticatedData aad: Data?, response: XKSEncryptResponse) -> Data {
        var hash = SHA256()
        hash.update(data: aad ?? Data())
        hash.update(data: response.ciphertextMetadata ?? Data())
        hash.update(data: response.initializationVector)
        hash.update(data: response.ciphertext)
        hash.update(data: response.authenticationTag)
        return Data(hash.finalize())
    }
}
