import CKMSOpenSSL
import Crypto
import KMSDomain

/// HMAC for HMAC_224/256/384/512 keys.
public enum MessageAuthentication {
    /// The tag of `message` under `key`. SHA-256/384/512 use swift-crypto (its BoringSSL is the
    /// faster path); SHA-224, which swift-crypto lacks, uses the system's OpenSSL.
    public static func mac(_ algorithm: MacAlgorithm, key: SymmetricKey, message: [UInt8]) -> [UInt8] {
        switch algorithm {
        case .hmacSha256: return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
        case .hmacSha384: return Array(HMAC<SHA384>.authenticationCode(for: message, using: key))
        case .hmacSha512: return Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
        case .hmacSha224:
            let tag = key.withUnsafeBytes { key in
                withOutputBuffer(capacity: 64) { out, length in
                    message.withUnsafeBufferPointer { message in
                        kms_hmac(
                            KMS_HASH_SHA224, key.baseAddress?.assumingMemoryBound(to: UInt8.self), key.count,
                            message.baseAddress, message.count, out, &length)
                    }
                }
            }
            // HMAC over a built-in digest fails only when memory runs out, as swift-crypto's would.
            guard let tag else { preconditionFailure("OpenSSL HMAC-SHA-224 failed") }
            return tag
        }
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
