import Foundation
import SwiftProtobuf

/// The AWS JSON 1.1 form of the public messages: AWS member names (the proto's json_name),
/// blobs in base64, enums by their AWS names, timestamps as epoch seconds, 64-bit integers as
/// numbers. Built on protobuf's own JSON codec plus a generated table of the fields that
/// differ, so the mapping is one to one and never written by hand per operation.
public enum AWSJSON {
    /// How a field's JSON differs between protobuf's codec and AWS's (the generated table lists these fields only).
    public enum FieldKind: Sendable {
        case enumeration(prefix: String)
        case timestamp
        case int64
        case message(String)
    }

    /// A request body that is not a JSON object or not the operation's shape.
    public struct DecodingError: Error, CustomStringConvertible {
        /// What is wrong, for the caller: AWS's validation message for an unknown enum value, else the shape mismatch.
        public let description: String
    }

    /// Encodes a message as an AWS JSON object.
    public static func object(_ message: some SwiftProtobuf.Message) throws -> [String: Any] {
        let data = try message.jsonUTF8Data()
        guard let tree = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return try convert(tree, message: Self.name(of: type(of: message)), toAWS: true)
    }

    /// Encodes a message as AWS JSON bytes (keys sorted, so output is stable).
    public static func data(_ message: some SwiftProtobuf.Message, pretty: Bool = false) throws -> Data {
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        if pretty { options.insert(.prettyPrinted) }
        return try JSONSerialization.data(withJSONObject: try object(message), options: options)
    }

    /// Decodes an AWS JSON object into a message. Unknown members are ignored, as AWS does.
    public static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, from object: [String: Any]) throws -> M {
        let tree = try convert(object, message: Self.name(of: type), toAWS: false)
        let data = try JSONSerialization.data(withJSONObject: tree)
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        do {
            return try M(jsonUTF8Data: data, options: options)
        } catch {
            throw DecodingError(description: "the request does not match \(Self.name(of: type)): \(error)")
        }
    }

    /// Decodes an AWS JSON request body; throws `DecodingError` unless it is a JSON object of the message's shape.
    public static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, from data: Data) throws -> M {
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any]
        else {
            throw DecodingError(description: "the request body is not a JSON object")
        }
        return try decode(type, from: dictionary)
    }

    static func name(of type: any SwiftProtobuf.Message.Type) -> String {
        let full = type.protoMessageName
        return full.split(separator: ".").last.map(String.init) ?? full
    }

    private static func convert(_ object: [String: Any], message: String, toAWS: Bool) throws -> [String: Any] {
        var out = object
        if toAWS, let lists = schemaLists[message] ?? adminSchemaLists[message] {
            for name in lists where out[name] == nil { out[name] = [Any]() }
        }
        guard let fields = schema[message] ?? adminSchema[message] else { return out }
        for (name, value) in object {
            guard let kind = fields[name] else { continue }
            if let array = value as? [Any] {
                out[name] = try array.map { try convert(value: $0, kind: kind, member: name, toAWS: toAWS) }
            } else {
                out[name] = try convert(value: value, kind: kind, member: name, toAWS: toAWS)
            }
        }
        return out
    }

    private static func convert(value: Any, kind: FieldKind, member: String, toAWS: Bool) throws -> Any {
        switch kind {
        case .enumeration(let prefix):
            guard let text = value as? String else {
                // AWS enums are strings. Protobuf's JSON decoder would take a number as the enum's
                // number (0: unspecified), a value no AWS name stands for, which the answer or a
                // second decoding then refuses.
                if toAWS || value is NSNull { return value }
                throw DecodingError(description: "the member \(member) must be a string, one of its enum's names")
            }
            if toAWS { return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text }
            // Protobuf's JSON decoder drops unknown enum names when unknown members are ignored,
            // so they are refused here, with AWS's message.
            let allowed = enumValues[prefix] ?? []
            guard allowed.contains(text) else {
                let field = member.prefix(1).lowercased() + member.dropFirst()
                throw DecodingError(
                    description:
                        "1 validation error detected: Value '\(text.prefix(64))' at '\(field)' failed to satisfy "
                        + "constraint: Member must satisfy enum value set: [\(allowed.joined(separator: ", "))]"
                )
            }
            return prefix + text
        case .timestamp:
            if toAWS {
                guard let text = value as? String, let date = parseTimestamp(text) else { return value }
                return date.timeIntervalSince1970
            }
            guard let seconds = (value as? NSNumber)?.doubleValue else { return value }
            return formatTimestamp(Date(timeIntervalSince1970: seconds))
        case .int64:
            if toAWS, let text = value as? String, let number = Int64(text) { return number }
            return value
        case .message(let name):
            guard let nested = value as? [String: Any] else { return value }
            return try convert(nested, message: name, toAWS: toAWS)
        }
    }

    private static func parseTimestamp(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return withFraction.date(from: text) ?? ISO8601DateFormatter().date(from: text)
    }

    private static func formatTimestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
