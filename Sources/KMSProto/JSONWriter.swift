import Foundation

/// Writes the JSON trees `JSONSerialization.jsonObject` makes, and `AWSJSON`'s conversion
/// edits (String, NSNumber, Bool, integers, Double, NSNull, arrays, string-keyed dictionaries),
/// as `JSONSerialization.data(withJSONObject:options: [.sortedKeys, .withoutEscapingSlashes])`
/// would, but directly into bytes: Foundation's writer boxed and cast every value and was a
/// fifth of kmsd's time per AWS JSON request.
enum JSONWriter {
    struct InvalidValue: Error, CustomStringConvertible {
        let description: String
    }

    static func data(_ object: Any) throws -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        try write(object, into: &out)
        return Data(out)
    }

    private static func write(_ value: Any, into out: inout [UInt8]) throws {
        switch value {
        case let text as String:
            writeString(text, into: &out)
        case let dictionary as [String: Any]:
            try writeObject(dictionary, into: &out)
        case let array as [Any]:
            try writeArray(array, into: &out)
        case is NSNull:
            out.append(contentsOf: "null".utf8)
        case let number as NSNumber:
            try writeNumber(number, into: &out)
        default:
            throw InvalidValue(description: "a value of type \(type(of: value)) is not JSON")
        }
    }

    private static func writeObject(_ object: [String: Any], into out: inout [UInt8]) throws {
        out.append(UInt8(ascii: "{"))
        for (index, key) in object.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            try write(object[key]!, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    private static func writeArray(_ array: [Any], into out: inout [UInt8]) throws {
        out.append(UInt8(ascii: "["))
        for (index, element) in array.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            try write(element, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// Booleans are NSNumbers of type "c" here (JSONSerialization's and Swift's `Bool` bridged
    /// alike); no other value of this protocol is a char.
    private static func writeNumber(_ number: NSNumber, into out: inout [UInt8]) throws {
        switch UInt8(bitPattern: number.objCType.pointee) {
        case UInt8(ascii: "c"), UInt8(ascii: "B"):
            out.append(contentsOf: (number.boolValue ? "true" : "false").utf8)
        case UInt8(ascii: "d"), UInt8(ascii: "f"):
            try writeDouble(number.doubleValue, into: &out)
        case UInt8(ascii: "Q"), UInt8(ascii: "L"), UInt8(ascii: "I"), UInt8(ascii: "S"), UInt8(ascii: "C"):
            out.append(contentsOf: String(number.uint64Value).utf8)
        default:
            out.append(contentsOf: String(number.int64Value).utf8)
        }
    }

    /// A finite double: integral values (timestamps to the second) without a fraction.
    static func writeDouble(_ double: Double, into out: inout [UInt8]) throws {
        guard double.isFinite else { throw InvalidValue(description: "\(double) is not a JSON number") }
        if double == double.rounded(), abs(double) < 1e15 {
            out.append(contentsOf: String(Int64(double)).utf8)
        } else {
            out.append(contentsOf: "\(double)".utf8)
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Over the bytes in one buffer: the UTF-8 view's generic `contains(where:)` stepped
        // through its index a byte at a time, unspecialized.
        var text = text
        text.withUTF8 { bytes in
            // Most strings (ids, ARNs, base64) need no escape: copied whole, not byte by byte.
            if !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                out.append(contentsOf: bytes)
            } else {
                Self.writeEscaped(bytes, into: &out)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func writeEscaped(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
    }
}
