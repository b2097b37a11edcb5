import Foundation
import NIOCore

/// Writes each `RPCEnvelope` as a 4-byte big-endian length followed by its protobuf encoding.
public struct RPCFrameEncoder: MessageToByteEncoder {
    /// Envelopes to frame.
    public typealias OutboundIn = RPCEnvelope

    /// The encoder needs no settings: senders check the frame limit before writing.
    public init() {}

    /// Appends the frame: length prefix, then the envelope's protobuf encoding.
    public func encode(data: RPCEnvelope, out: inout ByteBuffer) throws {
        if case .payload(let payload)? = data.body, data.unknownFields.data.isEmpty {
            // Every request and answer: written here field by field, the bytes SwiftProtobuf
            // would write (the same fields in the same order), without the array it serializes
            // into first and the copy of the payload from it (an allocation and a copy a frame,
            // four frames a request in kmsd).
            Self.writePayloadFrame(id: data.requestID, method: data.method, payload: payload, to: &out)
            return
        }
        let bytes: [UInt8] = try data.serializedBytes()
        out.reserveCapacity(minimumWritableBytes: 4 + bytes.count)
        out.writeInteger(UInt32(bytes.count), endianness: .big)
        out.writeBytes(bytes)
    }

    /// envelope.proto's `request_id = 1` (a varint, left out when 0), `method = 2` (left out when
    /// empty) and `payload = 3` (a oneof member: written when set, even empty).
    private static func writePayloadFrame(id: UInt64, method: String, payload: Data, to out: inout ByteBuffer) {
        let methodLength = method.utf8.count
        var length = 1 + varintSize(UInt64(payload.count)) + payload.count
        if id != 0 { length += 1 + varintSize(id) }
        if methodLength > 0 { length += 1 + varintSize(UInt64(methodLength)) + methodLength }
        out.reserveCapacity(minimumWritableBytes: 4 + length)
        out.writeInteger(UInt32(length), endianness: .big)
        if id != 0 {
            out.writeInteger(UInt8(0x08))  // field 1, varint
            writeVarint(id, to: &out)
        }
        if methodLength > 0 {
            out.writeInteger(UInt8(0x12))  // field 2, length-delimited
            writeVarint(UInt64(methodLength), to: &out)
            out.writeString(method)
        }
        out.writeInteger(UInt8(0x1A))  // field 3, length-delimited
        writeVarint(UInt64(payload.count), to: &out)
        out.writeBytes(payload)
    }

    private static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    private static func writeVarint(_ value: UInt64, to out: inout ByteBuffer) {
        var value = value
        while value >= 0x80 {
            out.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.writeInteger(UInt8(value))
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds the frame decoder and encoder, the first two handlers of either end of a link.
    public func addRPCFraming(maxFrameLength: Int) throws {
        try self.addHandler(ByteToMessageHandler(RPCFrameDecoder(maxFrameLength: maxFrameLength)))
        try self.addHandler(MessageToByteHandler(RPCFrameEncoder()))
    }
}
