import KMSRPC
import NIOCore

/// Test helpers: envelopes as the bytes on the wire, and back.
enum Frames {
    static func request(id: UInt64, method: String, payload: [UInt8] = []) -> RPCEnvelope {
        var envelope = RPCEnvelope()
        envelope.requestID = id
        envelope.method = method
        envelope.payload = .init(payload)
        return envelope
    }

    static func bytes(_ envelopes: RPCEnvelope...) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for envelope in envelopes {
            let body: [UInt8] = try envelope.serializedBytes()
            buffer.writeInteger(UInt32(body.count))
            buffer.writeBytes(body)
        }
        return buffer
    }

    static func raw(length: UInt32, body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(length)
        buffer.writeBytes(body)
        return buffer
    }

    /// Decodes every whole frame in `buffer`.
    static func decode(_ buffer: ByteBuffer) throws -> [RPCEnvelope] {
        var buffer = buffer
        var out: [RPCEnvelope] = []
        while let length = buffer.readInteger(as: UInt32.self), let body = buffer.readBytes(length: Int(length)) {
            out.append(try RPCEnvelope(serializedBytes: body))
        }
        return out
    }
}
