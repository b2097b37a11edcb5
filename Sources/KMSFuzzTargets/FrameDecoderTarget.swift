import KMSRPC
import NIOCore
import NIOEmbedded

/// The length-prefixed frame decoder, through NIO's real `ByteToMessageHandler`, against a
/// reference model written from the wire format's definition.
///
/// Input: one byte that seeds how the stream is cut into reads, then the byte stream. The stream
/// is decoded in one read, cut at pseudo-random places and (when short) one byte per read; each
/// time the decoder must yield exactly the model's envelopes, in order, and then the model's
/// error, if any. So no frame above the cap is ever yielded, no split of the bytes changes the
/// result, and nothing is yielded after an error.
enum FrameDecoderTarget {
    /// Small, so that the fuzzer reaches frames on both sides of the cap with short inputs.
    static let maximumFrameLength = 512

    static let target = FuzzTarget(name: "frames", run: run, seeds: seeds)

    struct Outcome: Equatable {
        var envelopes: [RPCEnvelope] = []
        var error: RPCFrameError?
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let splitSeed = input.byte()
        let stream = input.rest()
        let expected = model(stream)
        // Where the stream is cut into reads: nowhere, at up to 32 pseudo-random places, and
        // (for short streams, where a read per byte is affordable) everywhere.
        var random = SplitMix64(seed: UInt64(splitSeed) &* 0x9E37_79B9 &+ UInt64(stream.count))
        var cuts = Set<Int>()
        if stream.count > 1 {
            for _ in 0..<(1 + Int(splitSeed) % 32) { cuts.insert(1 + Int(random.next() % UInt64(stream.count - 1))) }
        }
        var splits: [(String, [Int])] = [("one read", []), ("random reads", cuts.sorted())]
        if stream.count <= 48 { splits.append(("one byte per read", Array(0..<stream.count))) }
        for (name, cuts) in splits {
            let decoded = decode(stream, cuts: cuts)
            require(
                decoded == expected,
                "\(name): decoded \(decoded.envelopes.count) envelopes and \(String(describing: decoded.error)), the "
                    + "model \(expected.envelopes.count) and \(String(describing: expected.error))"
            )
        }
    }

    /// The wire format by its definition: frames until the first one whose length exceeds the
    /// cap, whose body is not an envelope, or whose id 0 is neither an error nor the challenge;
    /// a half frame at the end waits (and is dropped at EOF).
    static func model(_ stream: [UInt8]) -> Outcome {
        var outcome = Outcome()
        var offset = 0
        while stream.count - offset >= 4 {
            let length = stream[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard length <= maximumFrameLength else {
                outcome.error = .frameTooLarge(length: length, maximum: maximumFrameLength)
                return outcome
            }
            guard stream.count - offset - 4 >= length else { return outcome }
            let body = Array(stream[(offset + 4)..<(offset + 4 + length)])
            offset += 4 + length
            // "Challenge" is RPCError.challengeMethod (internal to KMSRPC): the one id-0 frame
            // the server sends that is not an error.
            guard let envelope = try? RPCEnvelope(serializedBytes: body),
                envelope.requestID != 0 || envelope.isError || envelope.method == "Challenge"
            else {
                outcome.error = .malformedEnvelope
                return outcome
            }
            outcome.envelopes.append(envelope)
        }
        return outcome
    }

    /// Decodes `stream` delivered in reads that end at `cuts` (ascending offsets) and at its end.
    static func decode(_ stream: [UInt8], cuts: [Int]) -> Outcome {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(RPCFrameDecoder(maxFrameLength: maximumFrameLength)))
        var outcome = Outcome()
        // Envelopes are read out before an error is recorded: those the decoder yielded in the
        // same read before it failed are legitimate. One yielded after the failure would make
        // the list longer than the model's.
        func drain() {
            while let envelope = try? channel.readInbound(as: RPCEnvelope.self) {
                outcome.envelopes.append(envelope)
            }
        }
        func record(_ error: any Error) {
            drain()
            switch error {
            case let frameError as RPCFrameError where outcome.error == nil:
                outcome.error = frameError
            case ByteToMessageDecoderError.leftoverDataWhenDone:
                // A half frame at EOF: dropped with the connection, which is what the model says.
                break
            default:
                require(false, "the decoder failed with \(error), not an RPCFrameError")
            }
        }
        var offset = 0
        for end in cuts.filter({ $0 > 0 && $0 < stream.count }) + [stream.count]
        where offset < end && outcome.error == nil {
            do {
                try channel.writeInbound(channel.allocator.buffer(bytes: stream[offset..<end]))
            } catch {
                record(error)
            }
            offset = end
            drain()
        }
        do {
            _ = try channel.finish()
        } catch {
            record(error)
        }
        drain()
        return outcome
    }

    static func seeds() -> [[UInt8]] {
        func frame(_ envelope: RPCEnvelope) -> [UInt8] {
            let body: [UInt8] = try! envelope.serializedBytes()
            return withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + body
        }
        func request(_ id: UInt64, _ method: String, _ payload: [UInt8]) -> RPCEnvelope {
            var envelope = RPCEnvelope()
            envelope.requestID = id
            envelope.method = method
            envelope.payload = .init(payload)
            return envelope
        }
        var challenge = RPCEnvelope()
        challenge.method = "Challenge"
        challenge.payload = .init(repeating: 0xC4, count: 32)
        var error = RPCEnvelope()
        error.requestID = 7
        var body = RPCErrorBody()
        body.code = "AccessDeniedException"
        body.message = "not allowed"
        body.retryable = false
        error.error = body
        let encrypt = request(
            1, "Encrypt", Array("\u{0A}\u{24}1234abcd-12ab-34cd-56ef-1234567890ab\u{12}\u{05}hello".utf8))
        let big = request(2, "GenerateRandom", [UInt8](repeating: 0x5A, count: maximumFrameLength - 24))
        return [
            [0] + frame(encrypt),
            [3] + frame(encrypt) + frame(request(2, "Decrypt", [])) + frame(error),
            [1] + frame(challenge) + frame(request(1, "Authenticate", Array("AKIAEXAMPLE".utf8))),
            [9] + frame(big),
            [5] + frame(encrypt) + Array(frame(encrypt).prefix(7)),
            [2] + withUnsafeBytes(of: UInt32(maximumFrameLength + 1).bigEndian, Array.init) + [1, 2, 3],
            [4] + [0, 0, 0, 0],
            [6] + [0, 0, 0, 3, 0xFF, 0xFF, 0xFF],
        ]
    }
}

/// A small deterministic generator (SplitMix64): reproducible splits from a seed byte.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
