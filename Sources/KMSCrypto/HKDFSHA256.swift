import CKMSOpenSSL
import Crypto

/// HKDF-SHA256 (RFC 5869) with a 32-byte output, over OpenSSL's SHA-256: the same function as
/// swift-crypto's `HKDF<SHA256>.deriveKey(..., outputByteCount: 32)`, which runs as unspecialized
/// generic code (HMAC<H> and HKDF<H> are not inlinable across modules) and was about a fifth of
/// kms-cryptod's CPU under the GenerateDataKey+Decrypt mix, one derivation per ciphertext.
enum HKDFSHA256 {
    /// The key HKDF-SHA256 derives from `material` with `salt` (empty: the RFC's all-zero salt)
    /// and `info`.
    static func key(material: SymmetricKey, salt: ArraySlice<UInt8>, info: [UInt8]) -> SymmetricKey {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { out in
            let ok = material.withUnsafeBytes { ikm in
                salt.withUnsafeBytes { salt in
                    info.withUnsafeBufferPointer { info in
                        kms_hkdf_sha256_32(
                            ikm.baseAddress?.assumingMemoryBound(to: UInt8.self), ikm.count,
                            salt.baseAddress?.assumingMemoryBound(to: UInt8.self), salt.count, info.baseAddress,
                            info.count, out.baseAddress)
                    }
                }
            }
            // Nothing in it can fail (no allocation, a built-in digest).
            guard ok == 1 else { preconditionFailure("OpenSSL HKDF-SHA-256 failed") }
            let key = SymmetricKey(data: UnsafeRawBufferPointer(out))
            out.update(repeating: 0)
            return key
        }
    }
}
