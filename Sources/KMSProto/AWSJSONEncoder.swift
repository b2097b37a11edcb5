import Foundation
import SwiftProtobuf

/// Writes a message's AWS JSON straight from its fields, as a protobuf visitor: the bytes
/// `JSONWriter.data(AWSJSON.object(message))` gives (members sorted, AWS enum names, epoch
/// timestamps, int64 as numbers, base64 blobs, the empty lists AWS sends), without the detour
/// through protobuf's JSON, a Foundation parse of it and a dictionary tree, which cost a tenth of
/// kmsd's CPU per AWS JSON response. `AWSJSONEncoderTests` and the fuzz targets hold the two equal.
struct AWSJSONEncoder: SwiftProtobuf.Visitor {
    /// One message's table: the generated schema's rows for it, looked up once per message type.
    struct Layout: Sendable {
        let names: [Int: String]
        let kinds: [String: AWSJSON.FieldKind]
        let emptyLists: [String]

        /// Every message of the public and the admin service, by full protobuf name: a worker
        /// message may share a short name with one of them ("kms.worker.v1.DecryptRequest").
        static let all: [String: Layout] = {
            var layouts: [String: Layout] = [:]
            for (name, numbers) in AWSJSON.schemaNumbers {
                layouts["kms.v1." + name] = Layout(
                    names: numbers, kinds: AWSJSON.schema[name] ?? [:],
                    emptyLists: AWSJSON.listsOmittedWhenEmpty.contains(name) ? [] : AWSJSON.schemaLists[name] ?? [])
            }
            for (name, numbers) in AWSJSON.adminSchemaNumbers {
                layouts["kms.admin.v1." + name] = Layout(
                    names: numbers, kinds: AWSJSON.adminSchema[name] ?? [:],
                    emptyLists: AWSJSON.adminSchemaLists[name] ?? [])
            }
            return layouts
        }()
    }

    private let layout: Layout
    /// Each member as written, in field order; sorted by name when the object is closed.
    private var members: [(name: String, value: [UInt8])] = []

    private init(layout: Layout) {
        self.layout = layout
    }

    /// The AWS JSON object of `message`. Messages of no AWS JSON service (the worker's, which
    /// only the fuzz targets encode) take the reference path.
    static func encode<M: SwiftProtobuf.Message>(_ message: M, into out: inout [UInt8]) throws {
        guard let layout = Layout.all[M.protoMessageName] else {
            out.append(contentsOf: try AWSJSON.referenceData(message))
            return
        }
        var encoder = AWSJSONEncoder(layout: layout)
        try message.traverse(visitor: &encoder)
        encoder.close(into: &out)
    }

    private mutating func close(into out: inout [UInt8]) {
        for name in self.layout.emptyLists where !self.members.contains(where: { $0.name == name }) {
            self.members.append((name, [UInt8(ascii: "["), UInt8(ascii: "]")]))
        }
        self.members.sort { $0.name < $1.name }
        out.append(UInt8(ascii: "{"))
        for (index, member) in self.members.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.writeString(member.name, into: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: member.value)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Adds the member of field `number`; fields the schema does not name (none in the generated
    /// messages) are left out, as protobuf's JSON would not know them either.
    private mutating func member(_ number: Int, _ write: (AWSJSON.FieldKind?, inout [UInt8]) throws -> Void)
        rethrows
    {
        guard let name = self.layout.names[number] else { return }
        var value: [UInt8] = []
        try write(self.layout.kinds[name], &value)
        self.members.append((name, value))
    }

    private static func list<T>(_ values: [T], into out: inout [UInt8], _ write: (T, inout [UInt8]) throws -> Void)
        rethrows
    {
        out.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            try write(value, &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    // MARK: - Values

    private static func writeInteger(_ value: some BinaryInteger, into out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }

    /// An enum by its AWS name: the proto name less the enum's prefix. UNSPECIFIED keeps its
    /// own name, and a number no name stands for is written as the number, as protobuf's JSON does.
    private static func writeEnum(_ number: Int, kind: AWSJSON.FieldKind?, into out: inout [UInt8]) {
        guard case .enumeration(let prefix) = kind else { return writeInteger(number, into: &out) }
        if let name = AWSJSON.enumNames[prefix]?[number] {
            JSONWriter.writeString(name, into: &out)
        } else if number == 0 {
            JSONWriter.writeString("UNSPECIFIED", into: &out)
        } else {
            writeInteger(number, into: &out)
        }
    }

    private static func writeMessage<M: SwiftProtobuf.Message>(
        _ value: M, kind: AWSJSON.FieldKind?, into out: inout [UInt8]
    ) throws {
        switch kind {
        case .timestamp:
            // Through the same text as protobuf's JSON, so the seconds are the ones the tree gives.
            let text = try value.jsonString()
            guard let date = AWSJSON.parseTimestamp(String(text.dropFirst().dropLast())) else {
                return JSONWriter.writeString(String(text.dropFirst().dropLast()), into: &out)
            }
            try JSONWriter.writeDouble(date.timeIntervalSince1970, into: &out)
        default:
            try encode(value, into: &out)
        }
    }

    // MARK: - Visitor

    mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {
        try self.member(fieldNumber) { _, out in try JSONWriter.writeDouble(value, into: &out) }
    }

    mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in Self.writeInteger(value, into: &out) }
    }

    /// As the tree does: past Int64's range the value stays protobuf's JSON string.
    mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in
            if value > UInt64(Int64.max) {
                JSONWriter.writeString(String(value), into: &out)
            } else {
                Self.writeInteger(value, into: &out)
            }
        }
    }

    mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in out.append(contentsOf: (value ? "true" : "false").utf8) }
    }

    mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in JSONWriter.writeString(value, into: &out) }
    }

    mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in JSONWriter.writeString(value.base64EncodedString(), into: &out) }
    }

    mutating func visitSingularEnumField<E: SwiftProtobuf.Enum>(value: E, fieldNumber: Int) throws {
        self.member(fieldNumber) { kind, out in Self.writeEnum(value.rawValue, kind: kind, into: &out) }
    }

    mutating func visitSingularMessageField<M: SwiftProtobuf.Message>(value: M, fieldNumber: Int) throws {
        try self.member(fieldNumber) { kind, out in try Self.writeMessage(value, kind: kind, into: &out) }
    }

    mutating func visitSingularGroupField<G: SwiftProtobuf.Message>(value: G, fieldNumber: Int) throws {
        try self.visitSingularMessageField(value: value, fieldNumber: fieldNumber)
    }

    mutating func visitRepeatedDoubleField(value: [Double], fieldNumber: Int) throws {
        try self.member(fieldNumber) { _, out in
            try Self.list(value, into: &out) { try JSONWriter.writeDouble($0, into: &$1) }
        }
    }

    mutating func visitRepeatedInt32Field(value: [Int32], fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in Self.list(value, into: &out) { Self.writeInteger($0, into: &$1) } }
    }

    mutating func visitRepeatedInt64Field(value: [Int64], fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in Self.list(value, into: &out) { Self.writeInteger($0, into: &$1) } }
    }

    mutating func visitRepeatedUInt32Field(value: [UInt32], fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in Self.list(value, into: &out) { Self.writeInteger($0, into: &$1) } }
    }

    mutating func visitRepeatedUInt64Field(value: [UInt64], fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in Self.list(value, into: &out) { Self.writeInteger($0, into: &$1) } }
    }

    mutating func visitRepeatedBoolField(value: [Bool], fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in
            Self.list(value, into: &out) { $1.append(contentsOf: ($0 ? "true" : "false").utf8) }
        }
    }

    mutating func visitRepeatedStringField(value: [String], fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in Self.list(value, into: &out) { JSONWriter.writeString($0, into: &$1) } }
    }

    mutating func visitRepeatedBytesField(value: [Data], fieldNumber: Int) throws {
        self.member(fieldNumber) { _, out in
            Self.list(value, into: &out) { JSONWriter.writeString($0.base64EncodedString(), into: &$1) }
        }
    }

    mutating func visitRepeatedEnumField<E: SwiftProtobuf.Enum>(value: [E], fieldNumber: Int) throws {
        self.member(fieldNumber) { kind, out in
            Self.list(value, into: &out) { Self.writeEnum($0.rawValue, kind: kind, into: &$1) }
        }
    }

    mutating func visitPackedEnumField<E: SwiftProtobuf.Enum>(value: [E], fieldNumber: Int) throws {
        try self.visitRepeatedEnumField(value: value, fieldNumber: fieldNumber)
    }

    mutating func visitRepeatedMessageField<M: SwiftProtobuf.Message>(value: [M], fieldNumber: Int) throws {
        try self.member(fieldNumber) { kind, out in
            try Self.list(value, into: &out) { try Self.writeMessage($0, kind: kind, into: &$1) }
        }
    }

    mutating func visitRepeatedGroupField<G: SwiftProtobuf.Message>(value: [G], fieldNumber: Int) throws {
        try self.visitRepeatedMessageField(value: value, fieldNumber: fieldNumber)
    }

    /// The proto's maps are string to string (encryption contexts): an object, its keys sorted.
    mutating func visitMapField<KeyType, ValueType: MapValueType>(
        fieldType: _ProtobufMap<KeyType, ValueType>.Type, value: _ProtobufMap<KeyType, ValueType>.BaseType,
        fieldNumber: Int
    ) throws {
        try self.mapMember(value, fieldNumber: fieldNumber)
    }

    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type, value: _ProtobufEnumMap<KeyType, ValueType>.BaseType,
        fieldNumber: Int
    ) throws where ValueType.RawValue == Int {
        try self.mapMember(value, fieldNumber: fieldNumber)
    }

    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type,
        value: _ProtobufMessageMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws {
        try self.mapMember(value, fieldNumber: fieldNumber)
    }

    private mutating func mapMember(_ value: Any, fieldNumber: Int) throws {
        guard let map = value as? [String: String] else {
            throw JSONWriter.InvalidValue(description: "field \(fieldNumber) is a map other than string to string")
        }
        self.member(fieldNumber) { _, out in
            out.append(UInt8(ascii: "{"))
            for (index, key) in map.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                JSONWriter.writeString(map[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Unknown fields have no AWS member; protobuf's JSON leaves them out too.
    mutating func visitUnknown(bytes: Data) throws {}

    mutating func visitExtensionFields(fields: ExtensionFieldValueSet, start: Int, end: Int) throws {}
}
