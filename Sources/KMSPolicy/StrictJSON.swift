import KMSDomain

/// A JSON number as the policy spells it. Condition values are text in IAM, so a number is
/// kept as written: a conversion through Double would turn 12345678901234567890 into
/// 1.2345678901234567e+19, a different value for every string operator.
struct JSONNumber: Hashable {
    let text: String
}

/// JSON's null, which Foundation would have given as NSNull: present, and of no type a policy
/// element accepts.
struct JSONNull: Hashable {}

/// The policy's own JSON reader (RFC 8259, nothing more). Foundation's JSONSerialization keeps
/// the last of duplicate keys, so `{"Effect":"Deny","Effect":"Allow"}` read as an Allow; it also
/// takes a byte order mark, reads numbers as Doubles, and recurses without a bound. This reads
/// the UTF-8 once, refuses any key that appears twice in one object (compared as the parser
/// sees them, after escapes: "Effect" and "\u0045ffect" are the same key), limits nesting, and
/// yields `[String: Any]`, `[Any]`, `String`, `JSONNumber`, `Bool` and `JSONNull`.
enum StrictJSON {
    /// The deepest nesting accepted. The policy grammar needs seven levels (document,
    /// Statement list, statement, Condition, operator, key, value list); the bound keeps a
    /// hostile document from exhausting the stack.
    static let maximumDepth = 16

    static func parse(_ text: String) throws(KMSError) -> Any {
        try parse(Array(text.utf8))
    }

    /// `bytes` as they came, which may not be UTF-8 at all.
    static func parse(_ bytes: [UInt8]) throws(KMSError) -> Any {
        var reader = Reader(bytes: bytes)
        return try reader.document()
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        mutating func document() throws(KMSError) -> Any {
            if self.bytes.count >= 3, self.bytes[0] == 0xEF, self.bytes[1] == 0xBB, self.bytes[2] == 0xBF {
                throw PolicyDocument.malformed("The policy starts with a byte order mark; send UTF-8 JSON without one.")
            }
            self.skipWhitespace()
            guard self.current == UInt8(ascii: "{") else {
                throw PolicyDocument.malformed("The policy is not a JSON object.")
            }
            let value = try self.value(depth: 0)
            self.skipWhitespace()
            guard self.index == self.bytes.count else {
                throw self.syntax("unexpected text after the policy's JSON object")
            }
            return value
        }

        private func syntax(_ what: String) -> KMSError {
            PolicyDocument.malformed("JSON syntax error at byte \(self.index): \(what).")
        }

        private var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

        private mutating func skipWhitespace() {
            while let byte = self.current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                self.index += 1
            }
        }

        private mutating func expect(_ byte: UInt8, _ what: String) throws(KMSError) {
            guard self.current == byte else { throw self.syntax("expected \(what)") }
            self.index += 1
        }

        private mutating func value(depth: Int) throws(KMSError) -> Any {
            switch self.current {
            case UInt8(ascii: "{"): return try self.object(depth: depth + 1)
            case UInt8(ascii: "["): return try self.array(depth: depth + 1)
            case UInt8(ascii: "\""): return try self.string()
            case UInt8(ascii: "t"):
                try self.literal("true")
                return true
            case UInt8(ascii: "f"):
                try self.literal("false")
                return false
            case UInt8(ascii: "n"):
                try self.literal("null")
                return JSONNull()
            case let byte? where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
                return try self.number()
            case nil: throw self.syntax("unexpected end of the document")
            default: throw self.syntax("unexpected character (NaN, Infinity, comments and single quotes are not JSON)")
            }
        }

        private mutating func enter(_ depth: Int) throws(KMSError) {
            guard depth <= StrictJSON.maximumDepth else {
                throw PolicyDocument.malformed(
                    "The policy nests JSON more than \(StrictJSON.maximumDepth) levels deep.")
            }
            self.index += 1
            self.skipWhitespace()
        }

        private mutating func object(depth: Int) throws(KMSError) -> [String: Any] {
            try self.enter(depth)
            var object: [String: Any] = [:]
            if self.current == UInt8(ascii: "}") {
                self.index += 1
                return object
            }
            while true {
                guard self.current == UInt8(ascii: "\"") else {
                    throw self.syntax("expected a string as an object key")
                }
                let keyStart = self.index
                let key = try self.string()
                self.skipWhitespace()
                try self.expect(UInt8(ascii: ":"), "':' after an object key")
                self.skipWhitespace()
                let value = try self.value(depth: depth)
                // Keys compare as Swift Strings, as the parser will look them up: escapes
                // decoded and canonically equivalent spellings equal.
                if object.updateValue(value, forKey: key) != nil {
                    throw PolicyDocument.malformed(
                        "The policy has a duplicate key '\(key.prefix(64))' at byte \(keyStart); each key may appear "
                            + "only once in an object."
                    )
                }
                self.skipWhitespace()
                switch self.current {
                case UInt8(ascii: ","):
                    self.index += 1
                    self.skipWhitespace()
                case UInt8(ascii: "}"):
                    self.index += 1
                    return object
                default: throw self.syntax("expected ',' or '}' in an object")
                }
            }
        }

        private mutating func array(depth: Int) throws(KMSError) -> [Any] {
            try self.enter(depth)
            var array: [Any] = []
            if self.current == UInt8(ascii: "]") {
                self.index += 1
                return array
            }
            while true {
                array.append(try self.value(depth: depth))
                self.skipWhitespace()
                switch self.current {
                case UInt8(ascii: ","):
                    self.index += 1
                    self.skipWhitespace()
                case UInt8(ascii: "]"):
                    self.index += 1
                    return array
                default: throw self.syntax("expected ',' or ']' in a list")
                }
            }
        }

        private mutating func literal(_ word: String) throws(KMSError) {
            let count = word.utf8.count
            guard self.bytes.count - self.index >= count,
                self.bytes[self.index..<self.index + count].elementsEqual(word.utf8)
            else { throw self.syntax("unexpected character") }
            self.index += count
        }

        private mutating func number() throws(KMSError) -> JSONNumber {
            let start = self.index
            func digits(_ reader: inout Reader) -> Int {
                let from = reader.index
                while let byte = reader.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                    reader.index += 1
                }
                return reader.index - from
            }
            if self.current == UInt8(ascii: "-") { self.index += 1 }
            let leadingZero = self.current == UInt8(ascii: "0")
            let whole = digits(&self)
            guard whole > 0, !(leadingZero && whole > 1) else { throw self.syntax("malformed number") }
            if self.current == UInt8(ascii: ".") {
                self.index += 1
                guard digits(&self) > 0 else { throw self.syntax("malformed number") }
            }
            if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") {
                self.index += 1
                if self.current == UInt8(ascii: "+") || self.current == UInt8(ascii: "-") { self.index += 1 }
                guard digits(&self) > 0 else { throw self.syntax("malformed number") }
            }
            let text = String(decoding: self.bytes[start..<self.index], as: UTF8.self)
            guard let value = Double(text), value.isFinite else {
                throw PolicyDocument.malformed(
                    "The policy has a number out of range at byte \(start): '\(text.prefix(32))'.")
            }
            return JSONNumber(text: text)
        }

        private mutating func string() throws(KMSError) -> String {
            self.index += 1
            let start = self.index
            // The common case, no escapes: validate the UTF-8 in place.
            while let byte = self.current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 {
                self.index += 1
            }
            if self.current == UInt8(ascii: "\"") {
                defer { self.index += 1 }
                return try self.text(self.bytes[start..<self.index], at: start)
            }
            var buffer = Array(self.bytes[start..<self.index])
            while true {
                guard let byte = self.current else { throw self.syntax("unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    self.index += 1
                    return try self.text(buffer[...], at: start)
                case UInt8(ascii: "\\"):
                    self.index += 1
                    try self.escape(into: &buffer)
                case 0..<0x20:
                    throw self.syntax("control character in a string (escape it)")
                default:
                    buffer.append(byte)
                    self.index += 1
                }
            }
        }

        private func text(_ bytes: ArraySlice<UInt8>, at start: Int) throws(KMSError) -> String {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw PolicyDocument.malformed("The policy is not valid UTF-8 (in the string at byte \(start - 1)).")
            }
            return text
        }

        private mutating func escape(into buffer: inout [UInt8]) throws(KMSError) {
            guard let byte = self.current else { throw self.syntax("unterminated string") }
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(byte)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var code = try self.hex4()
                if (0xD800..<0xDC00).contains(code) {
                    guard self.current == UInt8(ascii: "\\"), self.index + 1 < self.bytes.count,
                        self.bytes[self.index + 1] == UInt8(ascii: "u")
                    else {
                        throw self.syntax("unpaired UTF-16 surrogate in a \\u escape")
                    }
                    self.index += 2
                    let low = try self.hex4()
                    guard (0xDC00..<0xE000).contains(low) else {
                        throw self.syntax("unpaired UTF-16 surrogate in a \\u escape")
                    }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(code) {
                    throw self.syntax("unpaired UTF-16 surrogate in a \\u escape")
                }
                buffer.append(contentsOf: UTF8.encode(Unicode.Scalar(code)!)!)
            default:
                throw self.syntax("invalid escape '\\\(Character(Unicode.Scalar(byte)))' in a string")
            }
        }

        private mutating func hex4() throws(KMSError) -> UInt32 {
            guard self.bytes.count - self.index >= 4 else { throw self.syntax("a \\u escape needs four hex digits") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = self.bytes[self.index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw self.syntax("a \\u escape needs four hex digits")
                }
                value = value << 4 | UInt32(digit)
                self.index += 1
            }
            return value
        }
    }
}
