import NIOCore
import PostgresNIO

/// A one-dimensional PostgreSQL array whose elements may be NULL, in the binary format.
/// postgres-nio encodes `[Element]` only: a batch of rows passed as one array per column
/// (`unnest($1, $2, ...)`) needs NULL elements for the columns that are nullable.
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
