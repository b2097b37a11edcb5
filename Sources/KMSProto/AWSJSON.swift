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
        /// True when the body is well-formed JSON of the right types but breaks a constraint of
        /// the model (an enum value outside its set): AWS answers those with ValidationException,
        /// and bodies it cannot read with SerializationException.
        public let isValidation: Bool

        init(description: String, isValidation: Bool = false) {
            self.description = description
            self.isValidation = isValidation
        }
    }

    /// AWS's validation message for constraint violations, each `Value '...' at '...' failed to
    /// satisfy constraint: ...`, in one text as AWS joins them.
    static func validationMessage(_ violations: [String]) -> String {
        let count = violations.count
        return "\(count) validation error\(count == 1 ? "" : "s") detected: " + violations.joined(separator: "; ")
    }

    /// Encodes a message as an AWS JSON object.
    public static func object(_ message: some SwiftProtobuf.Message) throws -> [String: Any] {
        let data = try message.jsonUTF8Data()
        guard let tree = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        var violations: [String] = []
        return try convert(
            tree, message: Self.name(of: type(of: message)), toAWS: true, path: "", violations: &violations)
    }

    /// Encodes a message as AWS JSON bytes (keys sorted, so output is stable).
    public static func data(_ message: some SwiftProtobuf.Message, pretty: Bool = false) throws -> Data {
        guard pretty else { return Data(try bytes(message)) }
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return try JSONSerialization.data(withJSONObject: try object(message), options: options)
    }

    /// Encodes a message as AWS JSON bytes, straight from its fields (`AWSJSONEncoder`): what
    /// the JSON endpoint sends for every response.
    public static func bytes(_ message: some SwiftProtobuf.Message) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try AWSJSONEncoder.encode(message, into: &out)
        return out
    }

    /// The bytes `data(_:)` gives, built the long way through `object(_:)` (protobuf's JSON and a
    /// tree): the reference the direct encoder is held to by tests and fuzzing.
    public static func referenceData(_ message: some SwiftProtobuf.Message) throws -> Data {
        try JSONWriter.data(try object(message))
    }

    /// Decodes an AWS JSON object into a message. Unknown members are ignored, as AWS does.
    public static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, from object: [String: Any]) throws -> M {
        var violations: [String] = []
        let tree = try convert(object, message: Self.name(of: type), toAWS: false, path: "", violations: &violations)
        let data = try JSONWriter.data(tree)
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        let message: M
        do {
            message = try M(jsonUTF8Data: data, options: options)
        } catch {
            throw DecodingError(description: "the request does not match \(Self.name(of: type)): \(error)")
        }
        // A body AWS cannot read is refused as such before any of its values is validated.
        guard violations.isEmpty else {
            throw DecodingError(description: validationMessage(violations), isValidation: true)
        }
        return message
    }

    /// Decodes an AWS JSON request body; throws `DecodingError` unless it is a JSON object of the message's shape.
    public static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, from data: Data) throws -> M {
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any]
        else {
            throw DecodingError(description: "the request body is not a JSON object")
        }
        return try decode(type, from: dictionary)
    }

    /// A message's name without its package ("KeyMetadata"), the name `members(of:)` takes.
    public static func name(of type: any SwiftProtobuf.Message.Type) -> String {
        var full = type.protoMessageName
        // Over the name's bytes: String's split made an array of its parts on every AWS JSON request.
        return full.withUTF8 { bytes in
            guard let dot = bytes.lastIndex(of: UInt8(ascii: ".")) else {
                return String(decoding: bytes, as: UTF8.self)
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[(dot + 1)...]), as: UTF8.self)
        }
    }

    /// A message's members in the order the proto declares them, which is botocore's model order (the
    /// order the aws CLI prints a response in), each with the message its value is (or a list of), nil
    /// for other values; nil for a message without members or unknown.
    public static func members(of message: String) -> [(name: String, message: String?)]? {
        guard let order = schemaOrder[message] ?? adminSchemaOrder[message] else { return nil }
        let fields = schema[message] ?? adminSchema[message] ?? [:]
        return order.map { name in
            guard case .message(let nested) = fields[name] else { return (name, nil) }
            return (name, nested)
        }
    }

    /// Messages whose empty lists AWS leaves out: a key's algorithm lists name only those of its
    /// key usage (EncryptionAlgorithms for ENCRYPT_DECRYPT, SigningAlgorithms for SIGN_VERIFY, ...).
    static let listsOmittedWhenEmpty: Set<String> = ["KeyMetadata", "GetPublicKeyResponse"]

    /// `path` is the AWS member path of `object` in validation messages ("" at the top,
    /// "recipient." or "tags.1.member." below); unknown enum names are added to `violations`.
    private static func convert(
        _ object: [String: Any], message: String, toAWS: Bool, path: String, violations: inout [String]
    ) throws -> [String: Any] {
        var out = object
        if toAWS, !listsOmittedWhenEmpty.contains(message),
            let lists = schemaLists[message] ?? adminSchemaLists[message]
        {
            for name in lists where out[name] == nil { out[name] = [Any]() }
        }
        guard let fields = schema[message] ?? adminSchema[message] else { return out }
        // By member name, so that several violations are always listed in one order.
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let kind = fields[name] else { continue }
            let member = path + name.prefix(1).lowercased() + name.dropFirst()
            if let array = value as? [Any] {
                var unknown: [String] = []
                out[name] = try array.enumerated().compactMap { index, element -> Any? in
                    if case .enumeration = kind, !toAWS {
                        return try convert(enumeration: element, kind: kind, member: member, unknown: &unknown)
                    }
                    return try convert(
                        value: element, kind: kind, member: "\(member).\(index + 1).member", toAWS: toAWS,
                        violations: &violations)
                }
                if case .enumeration(let prefix) = kind, !unknown.isEmpty {
                    // AWS names the whole list, and wraps the members' constraint in the list's.
                    let values = array.map { "\($0)".prefix(64) }.joined(separator: ", ")
                    violations.append(
                        "Value '[\(values)]' at '\(member)' failed to satisfy constraint: Member must satisfy "
                            + "constraint: [Member must satisfy enum value set: [\(allowedText(prefix))]]")
                }
            } else {
                let count = violations.count
                out[name] = try convert(value: value, kind: kind, member: member, toAWS: toAWS, violations: &violations)
                // An unknown enum name is left out (the request is refused with it).
                if case .enumeration = kind, violations.count > count { out[name] = nil }
            }
        }
        return out
    }

    private static func allowedText(_ prefix: String) -> String {
        (enumValues[prefix] ?? []).joined(separator: ", ")
    }

    /// One member of a list of enums, from AWS's name to protobuf's; an unknown name is left
    /// out (the request is refused with it) and added to `unknown`.
    private static func convert(enumeration value: Any, kind: FieldKind, member: String, unknown: inout [String])
        throws -> Any?
    {
        guard case .enumeration(let prefix) = kind else { return value }
        guard let text = value as? String else {
            if value is NSNull { return value }
            throw DecodingError(description: "the members of \(member) must be strings, each one of its enum's names")
        }
        guard (enumValues[prefix] ?? []).contains(text) else {
            unknown.append(text)
            return nil
        }
        return prefix + text
    }

    private static func convert(value: Any, kind: FieldKind, member: String, toAWS: Bool, violations: inout [String])
        throws -> Any
    {
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
            guard (enumValues[prefix] ?? []).contains(text) else {
                violations.append(
                    "Value '\(text.prefix(64))' at '\(member)' failed to satisfy constraint: Member must satisfy enum "
                        + "value set: [\(allowedText(prefix))]")
                return text
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
            return try convert(nested, message: name, toAWS: toAWS, path: member + ".", violations: &violations)
        }
    }

    static func parseTimestamp(_ text: String) -> Date? {
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
