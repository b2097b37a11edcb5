/// Appends big-endian fields, as every field of the message format is.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func append(_ value: UInt8) { self.bytes.append(value) }
    mutating func append(_ value: UInt16) { self.appendBigEndian(UInt64(value), size: 2) }
    mutating func append(_ value: UInt32) { self.appendBigEndian(UInt64(value), size: 4) }
    mutating func append(_ value: UInt64) { self.appendBigEndian(value, size: 8) }
    mutating func append(_ bytes: some Sequence<UInt8>) { self.bytes.append(contentsOf: bytes) }

    /// A field preceded by its two-byte length; the caller has checked that it fits.
    mutating func appendShortPrefixed(_ bytes: [UInt8]) {
        self.append(UInt16(bytes.count))
        self.append(bytes)
    }

    private mutating func appendBigEndian(_ value: UInt64, size: Int) {
        for shift in stride(from: (size - 1) * 8, through: 0, by: -8) {
            self.bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}

/// Reads big-endian fields from a buffer that may hold only part of a message: running out of
/// bytes throws `ByteReader.NeedMore`, which a streaming reader answers by waiting for more
/// input and a whole-message reader turns into a truncation error.
struct ByteReader {
    /// The input ended inside a field.
    struct NeedMore: Error {}

    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { self.bytes.count - self.offset }

    mutating func read(_ count: Int) throws(NeedMore) -> ArraySlice<UInt8> {
        guard count <= self.remaining else { throw NeedMore() }
        defer { self.offset += count }
        return self.bytes[self.offset..<self.offset + count]
    }

    mutating func readUInt8() throws(NeedMore) -> UInt8 { try self.read(1).first! }
    mutating func readUInt16() throws(NeedMore) -> UInt16 { UInt16(try self.readBigEndian(2)) }
    mutating func readUInt32() throws(NeedMore) -> UInt32 { UInt32(try self.readBigEndian(4)) }
    mutating func readUInt64() throws(NeedMore) -> UInt64 { try self.readBigEndian(8) }

    /// A field preceded by its two-byte length.
    mutating func readShortPrefixed() throws(NeedMore) -> [UInt8] {
        Array(try self.read(Int(try self.readUInt16())))
    }

    private mutating func readBigEndian(_ size: Int) throws(NeedMore) -> UInt64 {
        try self.read(size).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
