/// Case as HTTP and SigV4 treat header names: ASCII letters only. Unicode case mapping would let
/// a non-ASCII name (the Kelvin sign's "K") pass for an ASCII one.
public enum ASCIICase {
    /// `text` equals `lowercase` (already lowercase) with ASCII letters compared without case;
    /// compared in place, no new string.
    public static func equal(_ text: String, lowercase: String) -> Bool {
        text.utf8.elementsEqual(lowercase.utf8) { byte, other in
            isUpper(byte) ? byte | 0x20 == other : byte == other
        }
    }

    /// `text` with its ASCII capitals lowered; text without capitals is returned as it is.
    public static func lowered(_ text: String) -> String {
        guard text.utf8.contains(where: isUpper) else { return text }
        return String(decoding: text.utf8.map { isUpper($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    private static func isUpper(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
