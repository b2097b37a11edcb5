#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Overwrites a buffer that held a secret (a plaintext data key, a keyring file) with zeros, in a
/// way the optimizer may not drop because the buffer is about to be freed.
public func zeroize(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { zeroize($0) }
}

/// Zeroes memory that held a secret, e.g. the unused tail of an output buffer.
func zeroize(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return }
    #if canImport(Glibc)
        explicit_bzero(base, buffer.count)
    #else
        _ = memset_s(base, buffer.count, 0, buffer.count)
    #endif
}
