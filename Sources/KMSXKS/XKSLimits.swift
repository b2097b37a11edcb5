import Foundation

/// The sizes and formats XKS proxy API version 1 fixes, checked by both sides: the proxy
/// before it does anything with a request, the client before it sends one and on what it gets back.
public enum XKSLimits {
    /// The one algorithm of version 1.
    public static let encryptionAlgorithm = "AES_GCM"
    /// The one CDIV algorithm of version 1.
    public static let integrityAlgorithm = "SHA_256"
    /// The plaintext (and ciphertext) size a proxy must accept.
    public static let maxPlaintextBytes = 4300
    /// The AAD size a proxy must accept.
    public static let maxAADBytes = 8192
    /// The most ciphertextMetadata a proxy may return.
    public static let maxCiphertextMetadataBytes = 20
    /// The authentication tag's size.
    public static let tagBytes = 16
    /// The IV sizes allowed; ours are always 12.
    public static let ivSizes: Set<Int> = [12, 16]
    /// An external key id's maximum length.
    public static let maxKeyIDLength = 128
    /// The URI path's (`[/prefix]/kms/xks/v1`) maximum length.
    public static let maxURIPathLength = 128
    /// The longest ARN a request's metadata may carry.
    public static let maxARNLength = 2048
    /// The longest of the other metadata strings we accept (request ids, operation names, VPC ids).
    public static let maxMetadataStringLength = 2048
    /// An error message is shorter than this.
    public static let maxErrorMessageLength = 511
    /// The largest request body that can be valid: two 4300-byte fields, 8192 bytes of AAD and
    /// 20 of metadata in base64, metadata ARNs of 2048 characters, JSON around them, rounded up.
    public static let maxRequestBodyBytes = 64 * 1024
    /// The largest response body a client reads.
    public static let maxResponseBodyBytes = 64 * 1024

    /// Letters, digits, `-`, `.` and `_`, at most 128 characters.
    public static func isValidKeyID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= maxKeyIDLength
            && id.utf8.allSatisfy {
                isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
                    || $0 == UInt8(ascii: "_")
            }
    }

    /// `[/prefix]/kms/xks/v1`: letters, digits, `/`, `-` and `_`, at most 128 characters, ending
    /// in `/kms/xks/v1`.
    public static func isValidURIPath(_ path: String) -> Bool {
        path.utf8.count <= maxURIPathLength && path.hasPrefix("/") && path.hasSuffix("/kms/xks/v1")
            && path.utf8.allSatisfy {
                isAlphanumeric($0) || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
            }
    }

    /// An access key id as the spec asks: 20 to 30 characters of `A`-`Z` and `2`-`7`.
    public static func isValidAccessKeyID(_ id: String) -> Bool {
        (20...30).contains(id.utf8.count)
            && id.utf8.allSatisfy {
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0)
                    || (UInt8(ascii: "2")...UInt8(ascii: "7")).contains($0)
            }
    }

    /// `message` made fit for an error body: printable ASCII only, shorter than 512 characters.
    public static func errorMessage(_ message: String) -> String {
        var out = ""
        for scalar in message.unicodeScalars.prefix(maxErrorMessageLength) {
            out.unicodeScalars.append((0x20...0x7e).contains(scalar.value) ? scalar : "?")
        }
        return out
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
