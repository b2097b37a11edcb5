import Logging

extension Logger.MetadataValue {
    /// Text that came from a client (an access key id, a method name, a header, an error message
    /// that repeats one), made safe for a log line: see `LogEscaping.escape`.
    public static func untrusted(_ text: some StringProtocol, limit: Int = LogEscaping.defaultLimit)
        -> Logger.MetadataValue
    {
        .string(LogEscaping.escape(text, limit: limit))
    }
}

/// Keeps what a client sends from forging or hiding log lines. A newline in an access key id
/// would start a line of the client's choosing; a terminal escape or a bidirectional override
/// would rewrite what an operator sees; a megabyte of method name would bury everything else.
public enum LogEscaping {
    /// Characters kept by default: enough for any legitimate id, name or message.
    public static let defaultLimit = 256

    /// At most `limit` characters of `text`; control characters, Unicode format characters (the
    /// bidirectional overrides among them), line and paragraph separators and backslashes
    /// written as escapes (`\n`, `\u{202E}`, `\\`), so the escaped text reads back unambiguously;
    /// what was cut is said with its length.
    public static func escape(_ text: some StringProtocol, limit: Int = defaultLimit) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            guard count < limit else {
                return out + "…(\(text.unicodeScalars.count - count) more)"
            }
            count += 1
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                    out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
