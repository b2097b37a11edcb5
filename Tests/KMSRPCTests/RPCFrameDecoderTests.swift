import KMSRPC
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct RPCFrameDecoderTests {
    @Test func decodesSplitAndCoalescedFrames() throws {
        let envelopes = [
            Frames.request(id: 1, method: "Encrypt", payload: Array("hello".utf8)),
            Frames.request(id: 2, method: "Decrypt", payload: []),
            Frames.request(id: 3, method: "GenerateDataKey", payload: [UInt8](repeating: 7, count: 3000)),
        ]
        // The verifier feeds each input byte by byte, all at once and in mixed chunks.
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: try envelopes.map { (try Frames.bytes($0), [$0]) },
            decoderFactory: { RPCFrameDecoder(maxFrameLength: 64 * 1024) }
        )
    }

    @Test func waitsForAHalfFrame() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maxFrameLength: 1024)))
        var bytes = try Frames.bytes(Frames.request(id: 9, method: "Encrypt", payload: [1, 2, 3]))
        let head = bytes.readSlice(length: 6)!
        try channel.writeInbound(head)
        #expect(try channel.readInbound(as: RPCEnvelope.self) == nil)
        try channel.writeInbound(bytes)
        #expect(try channel.readInbound(as: RPCEnvelope.self)?.requestID == 9)
        #expect(try channel.finish().isClean)
    }

    @Test func refusesAnOversizedLengthBeforeItsBodyArrives() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maxFrameLength: 1024)))
        var header = ByteBuffer()
        header.writeInteger(UInt32.max)  // 4 GiB announced; must fail on the header alone
        #expect(throws: RPCFrameError.frameTooLarge(length: Int(UInt32.max), maximum: 1024)) {
            try channel.writeInbound(header)
        }
        _ = try? channel.finish()
    }

    @Test func acceptsAFrameOfExactlyTheMaximum() throws {
        let payload = [UInt8](repeating: 1, count: 1000)
        let frame = try Frames.bytes(Frames.request(id: 1, method: "M", payload: payload))
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(RPCFrameDecoder(maxFrameLength: frame.readableBytes - 4)))
        try channel.writeInbound(frame)
        #expect(try channel.readInbound(as: RPCEnvelope.self)?.payload.count == 1000)
        _ = try channel.finish()
    }

    @Test func refusesAZeroLengthFrame() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maxFrameLength: 1024)))
        #expect(throws: RPCFrameError.malformedEnvelope) {
            try channel.writeInbound(Frames.raw(length: 0, body: []))
        }
        _ = try? channel.finish()
    }

    @Test func refusesGarbage() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maxFrameLength: 1024)))
        let garbage: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x13, 0x37]
        #expect(throws: RPCFrameError.malformedEnvelope) {
            try channel.writeInbound(Frames.raw(length: UInt32(garbage.count), body: garbage))
        }
        _ = try? channel.finish()
    }

    /// Requests and answers are written field by field: byte for byte what SwiftProtobuf
    /// writes, at every varint boundary of the id and of the method's and payload's lengths; an
    /// error body and unknown fields still go through SwiftProtobuf.
    @Test func encoderWritesWhatSwiftProtobufWrites() throws {
        var envelopes: [RPCEnvelope] = []
        for id: UInt64 in [0, 1, 127, 128, 16_383, 16_384, 1 << 32, .max] {
            for methodLength in [0, 1, 15, 127, 128, 300] {
                for payloadLength in [0, 1, 127, 128, 16_383, 16_384, 70_000] {
                    envelopes.append(
                        Frames.request(
                            id: id, method: String(repeating: "m", count: methodLength),
                            payload: (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
                }
            }
        }
        var failure = Frames.request(id: 7, method: "Decrypt")
        failure.error.code = "InvalidCiphertextException"
        failure.error.message = "no"
        envelopes.append(failure)
        var unknown = Frames.request(id: 8, method: "Encrypt", payload: [1, 2])
        try unknown.merge(serializedBytes: [0x28, 0x05] as [UInt8])  // field 5, varint 5
        #expect(!unknown.unknownFields.data.isEmpty)
        envelopes.append(unknown)
        envelopes.append(Frames.request(id: 9, method: "Héllo ✓", payload: [3]))
        for envelope in envelopes {
            var out = ByteBuffer()
            try RPCFrameEncoder().encode(data: envelope, out: &out)
            #expect(out == (try Frames.bytes(envelope)))
            #expect(try Frames.decode(out) == [envelope])
        }
    }

    @Test func encoderWritesTheLengthPrefix() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(RPCFrameEncoder()))
        let envelope = Frames.request(id: 5, method: "GenerateRandom", payload: [1])
        try channel.writeOutbound(envelope)
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(written == (try Frames.bytes(envelope)))
        _ = try channel.finish()
    }
}
