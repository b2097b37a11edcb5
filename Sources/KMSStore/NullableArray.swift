import NIOCore
import PostgresNIO

/// A one-dimensional PostgreSQL array whose elements may be NULL, in the binary format.
/// postgres-nio encodes `[Element]` only, and decodes it only without NULL elements: a batch of
/// rows passed as one array per column (`unnest($1, $2, ...)`), or rows read back as one
/// (`array_agg`), needs NULL elements for the columns that are nullable.
struct NullableArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable>: PostgresNonThrowingEncodable {
    var elements: [Element?]

    init(_ elements: [Element?]) {
        self.elements = elements
    }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        // Dimensions (0 for an empty array), whether any element is NULL, the elements' type.
        buffer.writeInteger(Int32(self.elements.isEmpty ? 0 : 1))
        buffer.writeInteger(Int32(self.elements.contains { $0 == nil } ? 1 : 0))
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !self.elements.isEmpty else { return }
        // The one dimension's length and lower bound, then each element as length and bytes
        // (length -1: NULL).
        buffer.writeInteger(Int32(self.elements.count))
        buffer.writeInteger(Int32(1))
        for element in self.elements {
            guard let element else {
                buffer.writeInteger(Int32(-1))
                continue
            }
            let lengthIndex = buffer.writerIndex
            buffer.writeInteger(Int32(0))
            element.encode(into: &buffer, context: context)
            buffer.setInteger(Int32(buffer.writerIndex - lengthIndex - 4), at: lengthIndex)
        }
    }
}

/// Reading: postgres-nio decodes `[Element]` only when no element is NULL, so a column that
/// aggregates a nullable one (`array_agg(name)`) comes back through this.
extension NullableArray: PostgresDecodable where Element: PostgresArrayDecodable, Element == Element._DecodableType {
    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat,
        context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard case .binary = format,
            let (dimensions, _, elementOID) = buffer.readMultipleIntegers(
                endianness: .big, as: (Int32, Int32, UInt32).self),
            dimensions == 0 || dimensions == 1
        else { throw PostgresDecodingError.Code.failure }
        guard dimensions == 1 else {
            self.init([])
            return
        }
        guard let (count, _) = buffer.readMultipleIntegers(endianness: .big, as: (Int32, Int32).self), count >= 0
        else { throw PostgresDecodingError.Code.failure }
        let elementType = PostgresDataType(elementOID)
        var elements: [Element?] = []
        elements.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let length = buffer.readInteger(as: Int32.self) else { throw PostgresDecodingError.Code.failure }
            if length < 0 {
                elements.append(nil)
                continue
            }
            guard var slice = buffer.readSlice(length: Int(length)) else { throw PostgresDecodingError.Code.failure }
            elements.append(try Element(from: &slice, type: elementType, format: format, context: context))
        }
        self.init(elements)
    }
}
