import ArgumentParser
import Foundation
import KMSClient
import KMSProto
import KMSRPC
import SwiftProtobuf

/// A subcommand that calls one operation: it builds the request's AWS JSON members from its
/// options, and prints the response the way `aws kms` does.
protocol OperationCommand: AsyncParsableCommand {
    associatedtype Request: SwiftProtobuf.Message & Sendable
    associatedtype Response: SwiftProtobuf.Message & Sendable
    static var method: RPCMethod<Request, Response> { get }
    var global: GlobalOptions { get }
    /// The request's members by AWS name; nil values are left out.
    func members() throws -> [String: Any?]
}

extension OperationCommand {
    func run() async throws {
        let request: Request
        do {
            request = try AWSJSON.decode(Request.self, from: try self.members().compactMapValues { $0 })
        } catch let error as AWSJSON.DecodingError {
            throw ValidationError(error.description)
        }
        let client = try self.global.makeClient()
        defer { Task { await client.close() } }
        let response: Response
        do {
            response = try await client.call(Self.method, request)
        } catch {
            let message =
                "An error occurred (\(error.code)) when calling the \(Self.method.name) operation: \(error.message)\n"
            FileHandle.standardError.write(Data(message.utf8))
            throw ExitCode(254)
        }
        let object = try AWSJSON.object(response)
        // Like the aws CLI, an operation with an empty response prints nothing.
        if object.isEmpty && self.global.query == nil { return }
        guard let selected = Output.select(object, path: self.global.query) else {
            throw ValidationError("--query \(self.global.query ?? ""): no such member in the response")
        }
        print(try Output.render(selected, format: self.global.output))
    }
}

enum Output {
    /// Follows a dotted path with optional [index] steps through a JSON value.
    static func select(_ value: Any, path: String?) -> Any? {
        guard let path, !path.isEmpty else { return value }
        var current: Any? = value
        for step in path.split(separator: ".") {
            var name = Substring(step)
            var indexes: [Int] = []
            while let open = name.lastIndex(of: "["), name.hasSuffix("]"),
                let index = Int(name[name.index(after: open)..<name.index(before: name.endIndex)])
            {
                indexes.insert(index, at: 0)
                name = name[..<open]
            }
            if !name.isEmpty { current = (current as? [String: Any])?[String(name)] }
            for index in indexes {
                guard let array = current as? [Any], array.indices.contains(index) else { return nil }
                current = array[index]
            }
        }
        return current
    }

    static func render(_ value: Any, format: OutputFormat) throws -> String {
        switch format {
        case .json:
            return json(value, depth: 0)
        case .text:
            return text(value)
        }
    }

    /// JSON as the aws CLI prints it (Python's json.dumps with indent=4 and ensure_ascii=False):
    /// four spaces a level, `"Key": value`, `[]` and `{}` for empty ones, non-ASCII as it is,
    /// control characters escaped. Keys are sorted (the aws CLI prints botocore's model order).
    static func json(_ value: Any, depth: Int) -> String {
        let indent = String(repeating: " ", count: 4 * (depth + 1))
        let closing = String(repeating: " ", count: 4 * depth)
        switch value {
        case let dictionary as [String: Any]:
            if dictionary.isEmpty { return "{}" }
            let members = dictionary.keys.sorted().map { key in
                indent + quoted(key) + ": " + json(dictionary[key]!, depth: depth + 1)
            }
            return "{\n" + members.joined(separator: ",\n") + "\n" + closing + "}"
        case let array as [Any]:
            if array.isEmpty { return "[]" }
            return "[\n" + array.map { indent + json($0, depth: depth + 1) }.joined(separator: ",\n") + "\n" + closing
                + "]"
        case let string as String:
            return quoted(string)
        case let number as NSNumber where String(cString: number.objCType) == "c":
            return number.boolValue ? "true" : "false"
        case let number as NSNumber:
            // Integral values as Python reads them from the body: ints. Others in the shortest
            // form that reads back, which is Python's repr too.
            if let int = Int64(exactly: number.doubleValue) { return "\(int)" }
            return "\(number.doubleValue)"
        case is NSNull:
            return "null"
        default:
            return quoted("\(value)")
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
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
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
