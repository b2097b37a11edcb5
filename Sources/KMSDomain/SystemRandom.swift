#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bytes from the operating system's CSPRNG, a whole request in one call.
///
/// `SystemRandomNumberGenerator` (and swift-crypto's random keys and nonces, built on it) asks
/// the kernel for 8 bytes at a time: a GenerateDataKey's data key, salt and nonce (60 bytes) were
/// 8 `getrandom` system calls in kms-cryptod, a new material id 32. glibc's `arc4random_buf`
/// (2.36 and later, as Debian 12 and the service's images have) is one `getrandom(2)` for the
/// whole buffer and keeps no generator state of its own in the process, so a restored VM
/// snapshot or a forked process does not repeat its bytes: they are the kernel generator's, as
/// before, asked for once rather than 8 bytes at a time.
public enum SystemRandom {
    /// Fills `buffer` with random bytes.
    private static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        arc4random_buf(base, buffer.count)
    }

    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "a negative count of random bytes")
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            Self.fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }
}
