import CKMSOpenSSL
import Crypto
import KMSDomain

/// HMAC for HMAC_224/256/384/512 keys.
public enum MessageAuthentication {
    /// The tag of `message` under `key`, by kms_hmac (HMAC-SHA256 over OpenSSL's SHA-256 with
    /// nothing allocated, as the ciphertexts' HKDF uses it; the others from a context fetched once
    /// per digest): swift-crypto's HMAC<H> runs as unspecialized generic code
    /// (about 1 us more per GenerateMac in kms-cryptod, measured) and lacks SHA-224.
    public static func mac(_ algorithm: MacAlgorithm, key: SymmetricKey, message: [UInt8]) -> [UInt8] {
        let hash: Int32
        switch algorithm {
        case .hmacSha224: hash = KMS_HASH_SHA224
        case .hmacSha256: hash = KMS_HASH_SHA256
        case .hmacSha384: hash = KMS_HASH_SHA384
        case .hmacSha512: hash = KMS_HASH_SHA512
        }
        let tag = key.withUnsafeBytes { key in
            withOutputBuffer(capacity: 64) { out, length in
                message.withUnsafeBufferPointer { message in
                    kms_hmac(
                        hash, key.baseAddress?.assumingMemoryBound(to: UInt8.self), key.count, message.baseAddress,
                        message.count, out, &length)
                }
            }
        }
        // HMAC over a built-in digest fails only when memory runs out, as swift-crypto's would.
        guard let tag else { preconditionFailure("OpenSSL HMAC (\(algorithm.rawValue)) failed") }
        return tag
    }

    /// Constant-time comparison (CRYPTO_memcmp); a tag of the wrong length is simply false.
    public static func verify(_ algorithm: MacAlgorithm, key: SymmetricKey, message: [UInt8], mac: [UInt8]) -> Bool {
        let expected = self.mac(algorithm, key: key, message: message)
        guard mac.count == expected.count else { return false }
        return expected.withUnsafeBufferPointer { expected in
            mac.withUnsafeBufferPointer { kms_equal_consttime(expected.baseAddress, $0.baseAddress, $0.count) == 1 }
        }
    }
}
