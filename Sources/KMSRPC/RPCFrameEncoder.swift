import NIOCore

/// Writes each `RPCEnvelope` as a 4-byte big-endian length followed by its protobuf encoding.
public struct RPCFrameEncoder: MessageToByteEncoder {
    /// Envelopes to frame.
    public typealias OutboundIn = RPCEnvelope

    /// The encoder needs no settings: senders check the frame limit before writing.
    public init() {}

    /// Appends the frame: length prefix, then the envelope's protobuf encoding.
    public func encode(data: RPCEnvelope, out: inout ByteBuffer) throws {
        let bytes: [UInt8] = try data.serializedBytes()
        out.reserveCapacity(minimumWritableBytes: 4 + bytes.count)
        out.writeInteger(UInt32(bytes.count), endianness: .big)
        out.writeBytes(bytes)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds the frame decoder and encoder, the first two handlers of either end of a link.
    public func addRPCFraming(maxFrameLength: Int) throws {
        try self.addHandler(ByteToMessageHandler(RPCFrameDecoder(maxFrameLength: maxFrameLength)))
        try self.addHandler(MessageToByteHandler(RPCFrameEncoder()))
    }
}
