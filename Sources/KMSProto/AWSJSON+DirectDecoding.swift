import Foundation
import SwiftProtobuf

extension AWSJSON {
    /// A request body as SDKs send it, decoded without the long way's tree: the body is copied to
    /// protobuf's JSON with only its enum members rewritten (AWS's name to protobuf's), then
    /// decoded once. Nil whenever the body has anything the long way treats with more care, and
    /// the caller then takes the long way (`decode`), which gives the same message or the error:
    /// - anything but a plain JSON object of ASCII text without escapes, and whole numbers without
    ///   a sign, fraction or exponent (what Foundation's parser and protobuf's could read apart);
    /// - a member named twice;
    /// - a member of the request that is a timestamp, a 64-bit integer or a message, or an enum
    ///   whose value is not one of its AWS names (the long way words the validation message).
    /// The fuzz target holds the two ways equal on every body the direct one decodes.
    public static func decodeDirectly<M: SwiftProtobuf.Message>(_ type: M.Type, from body: Data) -> M? {
        let name = Self.name(of: type)
        let fields = schema[name] ?? adminSchema[name] ?? [:]
        let rewritten: [UInt8]? = body.withUnsafeBytes { raw in
            var scanner = DirectScanner(raw.bindMemory(to: UInt8.self))
            return scanner.rewrite(fields: fields)
        }
        guard let rewritten else { return nil }
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        return try? M(jsonUTF8Bytes: rewritten, options: options)
    }
}

/// One pass over a request body's top-level object, copying it with its enum members rewritten.
private struct DirectScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private static let quote = UInt8(ascii: "\"")

    mutating func rewrite(fields: [String: AWSJSON.FieldKind]) -> [UInt8]? {
        // Escapes and non-ASCII text are where two JSON parsers may differ: the long way for those.
        guard !self.bytes.contains(where: { $0 == UInt8(ascii: "\\") || $0 >= 0x80 }) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(self.bytes.count + 64)
        var copied = 0
        var seen: [ArraySlice<UInt8>] = []
        self.skipSpace()
        guard self.take(UInt8(ascii: "{")) else { return nil }
        let whole = self.items(closing: UInt8(ascii: "}")) { scanner in
            guard let key = scanner.string() else { return false }
            let keyBytes = ArraySlice(scanner.bytes[key])
            guard !seen.contains(keyBytes) else { return false }
            seen.append(keyBytes)
            scanner.skipSpace()
            guard scanner.take(UInt8(ascii: ":")) else { return false }
            scanner.skipSpace()
            let valueStart = scanner.index
            switch fields[String(decoding: keyBytes, as: UTF8.self)] {
            case nil:
                return scanner.skipValue(depth: 0)
            case .enumeration(let prefix):
                // One enum name, or a list of them (SDKs send empty lists too).
                let names = AWSJSON.enumValues[prefix] ?? []
                out.append(contentsOf: scanner.bytes[copied..<valueStart])
                if scanner.take(UInt8(ascii: "[")) {
                    out.append(UInt8(ascii: "["))
                    var first = true
                    let list = scanner.items(closing: UInt8(ascii: "]")) { scanner in
                        if !first { out.append(UInt8(ascii: ",")) }
                        first = false
                        return scanner.enumName(prefix: prefix, names: names, into: &out)
                    }
                    guard list else { return false }
                    out.append(UInt8(ascii: "]"))
                } else {
                    guard scanner.enumName(prefix: prefix, names: names, into: &out) else { return false }
                }
                copied = scanner.index
                return true
            case .timestamp, .int64, .message:
                return false
            }
        }
        guard whole else { return nil }
        self.skipSpace()
        guard self.index == self.bytes.count else { return nil }
        out.append(contentsOf: self.bytes[copied...])
        return out
    }

    /// Items separated by commas up to `closing`, the opening bracket already taken; false when
    /// an item fails or the list is malformed. Objects and lists alike.
    private mutating func items(closing: UInt8, _ item: (inout DirectScanner) -> Bool) -> Bool {
        self.skipSpace()
        if self.take(closing) { return true }
        while true {
            guard item(&self) else { return false }
            self.skipSpace()
            if self.take(closing) { return true }
            guard self.take(UInt8(ascii: ",")) else { return false }
            self.skipSpace()
        }
    }

    /// An enum's AWS name, written as protobuf's (its prefix added); false for anything else.
    private mutating func enumName(prefix: String, names: [String], into out: inout [UInt8]) -> Bool {
        guard let text = self.string() else { return false }
        let name = String(decoding: self.bytes[text], as: UTF8.self)
        guard names.contains(name) else { return false }
        out.append(Self.quote)
        out.append(contentsOf: prefix.utf8)
        out.append(contentsOf: name.utf8)
        out.append(Self.quote)
        return true
    }

    private mutating func skipSpace() {
        while self.index < self.bytes.count,
            [0x20, 0x09, 0x0A, 0x0D].contains(self.bytes[self.index])
        {
            self.index += 1
        }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
        self.index += 1
        return true
    }

    /// A string without escapes (there are none in the body); its contents' range.
    private mutating func string() -> Range<Int>? {
        guard self.take(Self.quote) else { return nil }
        let start = self.index
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == Self.quote {
                self.index += 1
                return start..<(self.index - 1)
            }
            guard byte >= 0x20 else { return nil }
            self.index += 1
        }
        return nil
    }

    private mutating func skipValue(depth: Int) -> Bool {
        guard depth < 32, self.index < self.bytes.count else { return false }
        switch self.bytes[self.index] {
        case Self.quote:
            return self.string() != nil
        case UInt8(ascii: "{"):
            self.index += 1
            return self.items(closing: UInt8(ascii: "}")) { scanner in
                guard scanner.string() != nil else { return false }
                scanner.skipSpace()
                guard scanner.take(UInt8(ascii: ":")) else { return false }
                scanner.skipSpace()
                return scanner.skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "["):
            self.index += 1
            return self.items(closing: UInt8(ascii: "]")) { $0.skipValue(depth: depth + 1) }
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            // Whole numbers only, without leading zeros.
            let start = self.index
            while self.index < self.bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index])
            {
                self.index += 1
            }
            return self.index - start < 10 && (self.bytes[start] != UInt8(ascii: "0") || self.index - start == 1)
        default:
            for literal in ["true", "false", "null"] {
                let end = self.index + literal.utf8.count
                if end <= self.bytes.count, self.bytes[self.index..<end].elementsEqual(literal.utf8) {
                    self.index = end
                    return true
                }
            }
            return false
        }
    }
}
