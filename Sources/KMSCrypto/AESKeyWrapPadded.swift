import CKMSOpenSSL
import Crypto
import KMSDomain

/// RFC 5649 AES key wrap with padding (OpenSSL EVP_aes_*_wrap_pad), as AWS's RSA_AES_KEY_WRAP
/// uses it. The key encryption key is AES-128, -192 or -256.
public enum AESKeyWrapPadded {
    /// Wraps 1 or more bytes; the result is the input rounded up to 8 bytes, plus 8.
    public static func wrap(_ key: [UInt8], kek: SymmetricKey) throws(KMSError) -> [UInt8] {
        try checkKEK(kek)
        guard !key.isEmpty else { throw .validation("there is no key material to wrap") }
        let wrapped = run(wrap: true, key, kek: kek, capacity: key.count + 16)
        guard let wrapped else { throw .internalFailure("AES key wrap failed") }
        return wrapped
    }

    /// Unwraps and checks integrity; a blob that does not unwrap under `kek`:
    /// KMSError(.invalidCiphertext, ...).
    public static func unwrap(_ wrapped: [UInt8], kek: SymmetricKey) throws(KMSError) -> [UInt8] {
        try checkKEK(kek)
        // RFC 5649: at least two 64-bit blocks.
        guard wrapped.count >= 16, wrapped.count % 8 == 0,
            let key = run(wrap: false, wrapped, kek: kek, capacity: wrapped.count)
        else {
            throw .invalidCiphertext(
                "the wrapped key does not unwrap under this key (AES key wrap integrity check failed)")
        }
        return key
    }

    private static func checkKEK(_ kek: SymmetricKey) throws(KMSError) {
        guard [16, 24, 32].contains(kek.bitCount / 8) else {
            throw .validation("an AES key wrap key is 128, 192 or 256 bits, not \(kek.bitCount)")
        }
    }

    private static func run(wrap: Bool, _ input: [UInt8], kek: SymmetricKey, capacity: Int) -> [UInt8]? {
        kek.withUnsafeBytes { kek in
            withOutputBuffer(capacity: capacity) { out, length in
                input.withUnsafeBufferPointer {
                    kms_aes_wrap_pad(
                        wrap ? 1 : 0, kek.baseAddress?.assumingMemoryBound(to: UInt8.self), kek.count,
                        $0.baseAddress, $0.count, out, &length)
                }
            }
        }
    }
}
