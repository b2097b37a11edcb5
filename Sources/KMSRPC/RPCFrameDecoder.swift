import NIOCore

/// Splits the byte stream into frames (a 4-byte big-endian length, then that many bytes) and
/// decodes each as an `RPCEnvelope`.
///
/// A length above `maxFrameLength` is refused before any allocation; an envelope that is not
/// valid protobuf is refused too. Both throw an `RPCFrameError`, on which the handlers answer
/// with an error frame and close the connection: after either, the peer cannot be trusted to
/// be in step.
public struct RPCFrameDecoder: ByteToMessageDecoder {
    /// One envelope per complete frame.
    public typealias InboundOut = RPCEnvelope

    private enum State {
        case waitingForHeader
        case waitingForBody(length: Int)
    }

    private var state: State = .waitingForHeader
    private let maxFrameLength: Int

    /// `maxFrameLength`: the largest frame body accepted, in bytes, the length prefix excluded.
    public init(maxFrameLength: Int) {
        self.maxFrameLength = maxFrameLength
    }

    /// Emits the next envelope once its whole frame has arrived; throws `RPCFrameError` on a frame
    /// that is too long, not an envelope, or uses id 0 where only errors and the challenge may.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let length: Int
        switch self.state {
        case .waitingForHeader:
            guard let announced = buffer.readInteger(endianness: .big, as: UInt32.self) else {
                return .needMoreData
            }
            guard announced <= self.maxFrameLength else {
                throw RPCFrameError.frameTooLarge(length: Int(announced), maximum: self.maxFrameLength)
            }
            length = Int(announced)
        case .waitingForBody(let waitingFor):
            length = waitingFor
        }
        // Read the body in the same call: a zero-length frame leaves no bytes that would make
        // the handler call us again.
        guard buffer.readableBytes >= length else {
            self.state = .waitingForBody(length: length)
            return .needMoreData
        }
        self.state = .waitingForHeader
        // Decoded where it lies in the buffer: copying each frame into an array first cost an
        // allocation and a copy per message. The frame is consumed either way.
        let decoded = Result { try RPCEnvelope(serializedBytes: buffer.readableBytesSpan.extracting(first: length)) }
        buffer.moveReaderIndex(forwardBy: length)
        guard case .success(let envelope) = decoded else { throw RPCFrameError.malformedEnvelope }
        guard envelope.requestID != 0 || envelope.isError || envelope.method == RPCError.challengeMethod else {
            // An id of 0 belongs only to connection-level errors (which carry a code) and to the
            // server's authentication challenge (which the handshake handler checks).
            throw RPCFrameError.malformedEnvelope
        }
        context.fireChannelRead(Self.wrapInboundOut(envelope))
        return .continue
    }

    /// Decodes the complete frames left at end of stream; a partial one is dropped.
    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // Complete frames still count; a half frame at EOF is simply dropped with the connection.
        try self.decode(context: context, buffer: &buffer)
    }
}

/// Why a byte stream stopped being a valid sequence of frames.
public enum RPCFrameError: Error, Equatable, Sendable {
    case frameTooLarge(length: Int, maximum: Int)
    case malformedEnvelope

    /// The error frame sent to the peer before closing.
    public var rpcError: RPCError {
        switch self {
        case .frameTooLarge(let length, let maximum):
            return .frameTooLarge(length: length, maximum: maximum)
        case .malformedEnvelope:
            return .serialization("frame is not a valid request envelope")
        }
    }
}
