import typealias Foundation.uuid_t

/// Lowercase hexadecimal, the one encoder and decoder of the package (material ids, SigV4
/// hashes and signatures, audit hashes), without Foundation's format machinery, which showed in
/// profiles.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Two lowercase digits per byte.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            var index = 0
            for byte in bytes {
                buffer[index] = Self.digits[Int(byte >> 4)]
                buffer[index + 1] = Self.digits[Int(byte & 0x0f)]
                index += 2
            }
            return index
        }
    }

    /// Two lowercase digits per byte, for sequences that are not collections (digests).
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Self.encode(Array(bytes))
    }

    /// The bytes of an even number of hex digits of either case; nil for anything else.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        Self.decode(digits: Array(text.utf8)[...])
    }

    /// The bytes of an even number of hex digits of either case, given as their ASCII bytes; nil
    /// for anything else.
    public static func decode(digits: ArraySlice<UInt8>) -> [UInt8]? {
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index < digits.endIndex {
            guard let high = Self.value(ofDigit: digits[index]), let low = Self.value(ofDigit: digits[index + 1]) else {
                return nil
            }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    /// A UUID's 16 bytes in its 8-4-4-4-12 form, lowercase (Foundation's `uuidString` formats
    /// each byte with snprintf, then `lowercased()` copies it: 2.5 % of kmsd's CPU under
    /// GenerateDataKey+Decrypt, which write a key id per request).
    public static func uuidText(_ bytes: some Collection<UInt8>) -> String {
        precondition(bytes.count == 16, "a UUID is 16 bytes")
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var index = 0
            for (position, byte) in bytes.enumerated() {
                if position == 4 || position == 6 || position == 8 || position == 10 {
                    buffer[index] = UInt8(ascii: "-")
                    index += 1
                }
                buffer[index] = Self.digits[Int(byte >> 4)]
                buffer[index + 1] = Self.digits[Int(byte & 0x0f)]
                index += 2
            }
            return index
        }
    }

    /// The UUID of an 8-4-4-4-12 form, digits of either case; nil for anything else. Read into
    /// the UUID's own 16 bytes, no array: kmsd and kms-cryptod parse a key id per request.
    /// (Foundation's `UUID(uuidString:)` parses with sscanf: 1 % of kmsd's CPU.)
    public static func uuid(_ text: String) -> uuid_t? {
        text.withUTF8Bytes { chars -> uuid_t? in
            guard chars.count == 36 else { return nil }
            var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let valid = withUnsafeMutableBytes(of: &uuid) { out -> Bool in
                var index = 0
                var written = 0
                while index < 36 {
                    if index == 8 || index == 13 || index == 18 || index == 23 {
                        guard chars[index] == UInt8(ascii: "-") else { return false }
                        index += 1
                        continue
                    }
                    guard let high = Self.value(ofDigit: chars[index]), let low = Self.value(ofDigit: chars[index + 1])
                    else { return false }
                    out[written] = high << 4 | low
                    written += 1
                    index += 2
                }
                return true
            }
            return valid ? uuid : nil
        }
    }

    /// The value of one hex digit (an ASCII byte) of either case.
    public static func value(ofDigit digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
