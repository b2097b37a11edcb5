import CKMSOpenSSL
import KMSDomain

/// Owns one OpenSSL EVP_PKEY and frees it with the last reference. OpenSSL keys may be used from
/// many threads at once as long as each operation makes its own EVP_PKEY_CTX, which every
/// `kms_*` function does; the key itself is never changed after construction.
final class OpenSSLKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        kms_pkey_free(pointer)
    }

    /// What the key is, in the shim's terms; nil for a kind no KMS key spec has.
    var shape: KeyShape? {
        var kind: Int32 = 0
        var param: Int32 = 0
        guard kms_pkey_describe(pointer, &kind, &param) == 1 else { return nil }
        return KeyShape(kind: kind, param: param)
    }

    /// The largest signature, ciphertext or shared secret the key produces.
    var maximumOutputBytes: Int { Int(kms_pkey_max_output(pointer)) }

    /// Parses a DER SubjectPublicKeyInfo; nil when it does not parse.
    static func publicKey(spki der: [UInt8]) -> OpenSSLKey? {
        der.withUnsafeBufferPointer { kms_pkey_from_spki($0.baseAddress, $0.count) }.map(OpenSSLKey.init)
    }

    /// The DER SubjectPublicKeyInfo. Encoding a key OpenSSL parsed or generated fails only when
    /// memory runs out, like any Swift allocation, hence no error to report.
    func subjectPublicKeyInfo() -> [UInt8] {
        encoded(kms_pkey_spki, "SubjectPublicKeyInfo")
    }

    /// The DER PKCS#8 PrivateKeyInfo: a secret, zero it after use.
    func pkcs8() -> [UInt8] {
        encoded(kms_pkey_pkcs8, "PKCS#8")
    }

    private func encoded(
        _ encode: (OpaquePointer?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<Int>?) ->
            Int32,
        _ name: String
    ) -> [UInt8] {
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        guard encode(pointer, &buffer, &length) == 1, let buffer else {
            preconditionFailure("OpenSSL could not encode a \(name) (out of memory)")
        }
        defer { kms_free(buffer, length) }
        return Array(UnsafeBufferPointer(start: buffer, count: length))
    }
}

/// A key's kind and its parameter as the C shim reports them: modulus bits for RSA, a
/// `KMS_CURVE_*` for EC, 0 for Ed25519.
struct KeyShape: Equatable {
    var kind: Int32
    var param: Int32

    /// For error messages: what a key is, never anything of its value.
    var name: String {
        switch (kind, param) {
        case (KMS_KIND_RSA, let bits): "RSA \(bits)-bit"
        case (KMS_KIND_EC, KMS_CURVE_P256): "EC P-256"
        case (KMS_KIND_EC, KMS_CURVE_P384): "EC P-384"
        case (KMS_KIND_EC, KMS_CURVE_P521): "EC P-521"
        case (KMS_KIND_EC, KMS_CURVE_SECP256K1): "EC secp256k1"
        case (KMS_KIND_ED25519, _): "Ed25519"
        default: "unknown"
        }
    }
}

extension KeySpec {
    /// The OpenSSL key of this spec; nil for the specs that are not asymmetric keys we hold.
    var keyShape: KeyShape? {
        switch self {
        case .rsa2048: KeyShape(kind: KMS_KIND_RSA, param: 2048)
        case .rsa3072: KeyShape(kind: KMS_KIND_RSA, param: 3072)
        case .rsa4096: KeyShape(kind: KMS_KIND_RSA, param: 4096)
        case .eccNistP256: KeyShape(kind: KMS_KIND_EC, param: KMS_CURVE_P256)
        case .eccNistP384: KeyShape(kind: KMS_KIND_EC, param: KMS_CURVE_P384)
        case .eccNistP521: KeyShape(kind: KMS_KIND_EC, param: KMS_CURVE_P521)
        case .eccSecgP256k1: KeyShape(kind: KMS_KIND_EC, param: KMS_CURVE_SECP256K1)
        case .eccNistEdwards25519: KeyShape(kind: KMS_KIND_ED25519, param: 0)
        default: nil
        }
    }
}

/// Runs a shim function that writes at most `capacity` bytes and reports how many it wrote.
/// Returns nil when it fails. The buffer is zeroed on failure and its unused tail before it is
/// cut off, since it may have held a plaintext or a key.
func withOutputBuffer(
    capacity: Int,
    _ body: (UnsafeMutablePointer<UInt8>, inout Int) -> Int32
) -> [UInt8]? {
    var output = [UInt8](repeating: 0, count: max(capacity, 1))
    var length = output.count
    let status = output.withUnsafeMutableBufferPointer { body($0.baseAddress!, &length) }
    guard status == 1, length <= capacity else {
        zeroize(&output)
        return nil
    }
    if length < output.count {
        output.withUnsafeMutableBytes { zeroize(UnsafeMutableRawBufferPointer(rebasing: $0[length...])) }
        output.removeLast(output.count - length)
    }
    return output
}
