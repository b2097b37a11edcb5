/// Case as HTTP and SigV4 treat header names: ASCII letters only. Unicode case mapping would let
/// a non-ASCII name (the Kelvin sign's "K") pass for an ASCII one.
public enum ASCIICase {
    /// `text` equals `lowercase` (already lowercase) with ASCII letters compared without case;
    /// compared in place, no new string.
    public static func equal(_ text: String, lowercase: String) -> Bool {
        // Lengths first (a native string knows its own): most header names differ in length.
        guard text.utf8.count == lowercase.utf8.count else { return false }
        return text.withUTF8Bytes { bytes in
            lowercase.withUTF8Bytes { others in
                for index in 0..<bytes.count {
                    let byte = bytes[index]
                    guard (isUpper(byte) ? byte | 0x20 : byte) == others[index] else { return false }
                }
                return true
            }
        }
    }

    /// `text` with its ASCII capitals lowered; text without capitals is returned as it is.
    public static func lowered(_ text: String) -> String {
        text.withUTF8Bytes { bytes in
            guard bytes.contains(where: isUpper) else { return text }
            return String(unsafeUninitializedCapacity: bytes.count) { out in
                for index in 0..<bytes.count { out[index] = isUpper(bytes[index]) ? bytes[index] | 0x20 : bytes[index] }
                return bytes.count
            }
        }
    }

    private static func isUpper(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
