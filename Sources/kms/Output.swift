import Foundation
import KMSProto
import SwiftProtobuf

/// A response as the aws CLI holds it before printing: botocore reads a structure's members in the
/// order of its model (the order of the proto, `AWSJSON.members(of:)`) and a map's in the order they
/// came, and Python's json.dumps prints them in that order.
indirect enum OrderedJSON {
    case object([(key: String, value: OrderedJSON)])
    case array([OrderedJSON])
    /// A string, a number, a boolean (as Foundation's JSON parser hands them back) or null.
    case scalar(Any)

    init(_ message: some SwiftProtobuf.Message) throws {
        self.init(try AWSJSON.object(message), message: AWSJSON.name(of: type(of: message)))
    }

    /// `value` as AWSJSON.object builds it; `message` names the message it is (or a list of), nil
    /// for a map or a scalar.
    init(_ value: Any, message: String?) {
        switch value {
        case let dictionary as [String: Any]:
            var members: [(key: String, value: OrderedJSON)] = []
            for member in message.flatMap(AWSJSON.members(of:)) ?? [] {
                guard let value = dictionary[member.name] else { continue }
                members.append((member.name, OrderedJSON(value, message: member.message)))
            }
            // Maps, and any member the proto does not declare, come sorted (kmsd sends maps sorted).
            let known = Set(members.map(\.key))
            for key in dictionary.keys.sorted() where !known.contains(key) {
                members.append((key, OrderedJSON(dictionary[key]!, message: nil)))
            }
            self = .object(members)
        case let array as [Any]:
            self = .array(array.map { OrderedJSON($0, message: message) })
        default:
            self = .scalar(value)
        }
    }

    /// The member of this name of an object.
    subscript(member name: String) -> OrderedJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == name }?.value
    }

    var isEmptyObject: Bool {
        if case .object(let members) = self { return members.isEmpty }
        return false
    }

    /// As Foundation's JSON types, for the text output (which sorts keys, as the aws CLI's does).
    var plain: Any {
        switch self {
        case .object(let members):
            return Dictionary(members.map { ($0.key, $0.value.plain) }, uniquingKeysWith: { first, _ in first })
        case .array(let elements):
            return elements.map(\.plain)
        case .scalar(let value):
            return value
        }
    }
}

enum Output {
    /// Follows a dotted path with optional [index] steps through a JSON value.
    static func select(_ value: OrderedJSON, path: String?) -> OrderedJSON? {
        guard let path, !path.isEmpty else { return value }
        var current: OrderedJSON? = value
        for step in path.split(separator: ".") {
            var name = Substring(step)
            var indexes: [Int] = []
            while let open = name.lastIndex(of: "["), name.hasSuffix("]"),
                let index = Int(name[name.index(after: open)..<name.index(before: name.endIndex)])
            {
                indexes.insert(index, at: 0)
                name = name[..<open]
            }
            if !name.isEmpty { current = current?[member: String(name)] }
            for index in indexes {
                guard case .array(let array) = current, array.indices.contains(index) else { return nil }
                current = array[index]
            }
        }
        return current
    }

    static func render(_ value: OrderedJSON, format: OutputFormat) -> String {
        switch format {
        case .json:
            return json(value, depth: 0)
        case .text:
            return text(value.plain)
        }
    }

    /// JSON as the aws CLI prints it (Python's json.dumps with indent=4 and ensure_ascii=False):
    /// four spaces a level, `"Key": value`, `[]` and `{}` for empty ones, non-ASCII as it is,
    /// control characters escaped, members in the order botocore reads them in.
    static func json(_ value: OrderedJSON, depth: Int) -> String {
        let indent = String(repeating: " ", count: 4 * (depth + 1))
        let closing = String(repeating: " ", count: 4 * depth)
        switch value {
        case .object(let members):
            if members.isEmpty { return "{}" }
            let lines = members.map { indent + quoted($0.key) + ": " + json($0.value, depth: depth + 1) }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + closing + "}"
        case .array(let array):
            if array.isEmpty { return "[]" }
            return "[\n" + array.map { indent + json($0, depth: depth + 1) }.joined(separator: ",\n") + "\n" + closing
                + "]"
        case .scalar(let string as String):
            return quoted(string)
        case .scalar(let number as NSNumber) where String(cString: number.objCType) == "c":
            return number.boolValue ? "true" : "false"
        case .scalar(let number as NSNumber):
            // Integral values as Python reads them from the body: ints. Others in the shortest
            // form that reads back, which is Python's repr too.
            if let int = Int64(exactly: number.doubleValue) { return "\(int)" }
            return "\(number.doubleValue)"
        case .scalar(is NSNull):
            return "null"
        case .scalar(let other):
            return quoted("\(other)")
        }
    }

    /// A JSON string as Python writes it with ensure_ascii=False.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            // Python escapes the C0 controls alone (DEL and the C1 controls go as they are).
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The aws CLI's text output: scalars as they are, lists tab separated, objects' values in
    /// key order.
    static func text(_ value: Any) -> String {
        switch value {
        case let dictionary as [String: Any]:
            let scalars = dictionary.keys.sorted().compactMap { key -> String? in
                let member = dictionary[key]!
                return member is [String: Any] || member is [Any] ? nil : text(member)
            }
            let nested = dictionary.keys.sorted().compactMap { key -> String? in
                let member = dictionary[key]!
                return member is [String: Any] || member is [Any] ? text(member) : nil
            }
            return ([scalars.joined(separator: "\t")].filter { !$0.isEmpty } + nested).joined(separator: "\n")
        case let array as [Any]:
            if array.allSatisfy({ !($0 is [String: Any] || $0 is [Any]) }) {
                return array.map(text).joined(separator: "\t")
            }
            return array.map(text).joined(separator: "\n")
        case let number as NSNumber where String(cString: number.objCType) == "c":
            // How Foundation's JSON parser hands back true and false.
            return number.boolValue ? "True" : "False"
        default:
            return "\(value)"
        }
    }
}
