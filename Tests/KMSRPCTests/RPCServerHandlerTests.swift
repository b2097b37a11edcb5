import KMSRPC
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

/// The server end over a test channel: bytes in, bytes out, as on a socket.
@Suite struct RPCServerHandlerTests {
    static func makeChannel(_ table: RPCHandlerTable, maxInFlight: Int = 256) async throws -> NIOAsyncTestingChannel {
        var configuration = RPCConfiguration(maxFrameLength: 4096)
        configuration.maxInFlightPerConnection = maxInFlight
        let settings = configuration
        let channel = try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addRPCFraming(maxFrameLength: 4096)
            try channel.pipeline.syncOperations.addHandler(
                RPCServerHandler(
                    table: table, configuration: settings,
                    connection: RPCConnectionInfo(id: 1, remoteAddress: nil), logger: Logger(label: "test")
                ))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        return channel
    }

    static func nextEnvelope(_ channel: NIOAsyncTestingChannel) async throws -> RPCEnvelope {
        let bytes = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        let envelopes = try Frames.decode(bytes)
        try #require(envelopes.count == 1)
        return envelopes[0]
    }

    static let echo = RPCMethod<RPCErrorBody, RPCErrorBody>("Echo")

    /// An Echo request whose body carries `message`.
    static func echo(id: UInt64, _ message: String) throws -> RPCEnvelope {
        var body = RPCErrorBody()
        body.message = message
        return Frames.request(id: id, method: "Echo", payload: try body.serializedBytes())
    }

    static func drive(_ channel: NIOAsyncTestingChannel, until gate: Gate) async throws {
        while !(await gate.isOpenNow) {
            await channel.testingEventLoop.run()
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test func answersAKnownMethod() async throws {
        var table = RPCHandlerTable()
        table.register(Self.echo) { request, _ in request }
        let channel = try await Self.makeChannel(table)
        var body = RPCErrorBody()
        body.message = "ping"
        try await channel.writeInbound(
            Frames.bytes(Frames.request(id: 7, method: "Echo", payload: try body.serializedBytes())))
        let answer = try await Self.nextEnvelope(channel)
        #expect(answer.requestID == 7)
        #expect(try RPCErrorBody(serializedBytes: answer.payload).message == "ping")
        _ = try await channel.finish()
    }

    @Test func answersAnUnknownMethodWithAnErrorAndKeepsServing() async throws {
        var table = RPCHandlerTable()
        table.register(Self.echo) { request, _ in request }
        let channel = try await Self.makeChannel(table)
        try await channel.writeInbound(Frames.bytes(Frames.request(id: 1, method: "Nope")))
        let answer = try await Self.nextEnvelope(channel)
        #expect(answer.requestID == 1)
        #expect(answer.error.code == "UnknownOperationException")
        #expect(answer.error.message.contains("Nope"))

        try await channel.writeInbound(Frames.bytes(Frames.request(id: 2, method: "Echo")))
        #expect(try await Self.nextEnvelope(channel).requestID == 2)
        #expect(channel.isActive)
        _ = try await channel.finish()
    }

    @Test func answersAGarbagePayloadWithSerializationException() async throws {
        var table = RPCHandlerTable()
        table.register(Self.echo) { request, _ in request }
        let channel = try await Self.makeChannel(table)
        try await channel.writeInbound(
            Frames.bytes(Frames.request(id: 3, method: "Echo", payload: [0xff, 0xff, 0xff])))
        let answer = try await Self.nextEnvelope(channel)
        #expect(answer.error.code == "SerializationException")
        #expect(channel.isActive)
        _ = try await channel.finish()
    }

    @Test func mapsUnknownErrorsToAGenericInternalError() async throws {
        struct Secret: Error { let detail = "database password is hunter2" }
        var table = RPCHandlerTable()
        table.register(Self.echo) { _, _ in throw Secret() }
        let channel = try await Self.makeChannel(table)
        try await channel.writeInbound(Frames.bytes(Frames.request(id: 4, method: "Echo")))
        let answer = try await Self.nextEnvelope(channel)
        #expect(answer.error.code == "KMSInternalException")
        #expect(!answer.error.message.contains("hunter2"))
        _ = try await channel.finish()
    }

    @Test func answersOutOfOrder() async throws {
        let gate = Gate()
        var table = RPCHandlerTable()
        table.register(RPCMethod<RPCErrorBody, RPCErrorBody>("Slow")) { request, _ in
            await gate.wait()
            return request
        }
        table.register(Self.echo) { request, _ in request }
        let channel = try await Self.makeChannel(table)
        try await channel.writeInbound(
            Frames.bytes(
                Frames.request(id: 10, method: "Slow"),
                Frames.request(id: 11, method: "Echo")
            ))
        #expect(try await Self.nextEnvelope(channel).requestID == 11)
        await gate.open()
        #expect(try await Self.nextEnvelope(channel).requestID == 10)
        _ = try await channel.finish()
    }

    /// One read can bring hundreds of frames: they wait as frames, and no more than the limit
    /// run at once (before, every frame of a read became a task: 27,000 requests ran at once in
    /// an overloaded kmsd, 164 MB of task frames alone).
    @Test func runsNoMoreThanItsLimitAtOnceEvenFromOneRead() async throws {
        let gate = Gate()
        let counts = Mutex((running: 0, most: 0, started: 0))
        var table = RPCHandlerTable()
        table.register(RPCMethod<RPCErrorBody, RPCErrorBody>("Slow")) { request, _ in
            counts.withLock { counts in
                counts.running += 1
                counts.started += 1
                counts.most = max(counts.most, counts.running)
            }
            await gate.wait()
            counts.withLock { $0.running -= 1 }
            return request
        }
        let channel = try await Self.makeChannel(table, maxInFlight: 2)
        var frames = ByteBuffer()
        for id in 1...10 {
            var frame = try Frames.bytes(Frames.request(id: UInt64(id), method: "Slow"))
            frames.writeBuffer(&frame)
        }
        try await channel.writeInbound(frames)
        for _ in 0..<20 {
            await channel.testingEventLoop.run()
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(counts.withLock { $0.started } == 2)
        await gate.open()
        var answered = Set<UInt64>()
        for _ in 1...10 { answered.insert(try await Self.nextEnvelope(channel).requestID) }
        #expect(answered == Set(1...10))
        #expect(counts.withLock { $0.most } == 2)
        _ = try await channel.finish()
    }

    /// An inline handler answers while the request is read, before any task of the loop runs:
    /// here before a slow request read earlier on the same connection.
    @Test func anInlineHandlerAnswersAsItReadsBesideATaskThatWaits() async throws {
        let gate = Gate()
        let seen = Mutex<[String]>([])
        var table = RPCHandlerTable()
        table.register(RPCMethod<RPCErrorBody, RPCErrorBody>("Slow")) { request, _ in
            await gate.wait()
            return request
        }
        table.registerInline(Self.echo) { request, context in
            let task = withUnsafeCurrentTask { $0 == nil ? "no task" : "a task" }
            seen.withLock { $0.append("\(context.method) \(context.requestID) \(task)") }
            var answer = request
            answer.message += " pong"
            return answer
        }
        let channel = try await Self.makeChannel(table)
        try await channel.writeInbound(Frames.bytes(Frames.request(id: 10, method: "Slow"), Self.echo(id: 11, "ping")))
        // Answered within writeInbound: nothing of the loop has run, not even the flush.
        #expect(seen.withLock { $0 } == ["Echo 11 no task"])
        let answer = try await Self.nextEnvelope(channel)
        #expect(answer.requestID == 11)
        #expect(try RPCErrorBody(serializedBytes: answer.payload).message == "ping pong")
        await gate.open()
        #expect(try await Self.nextEnvelope(channel).requestID == 10)
        _ = try await channel.finish()
    }

    @Test func anInlineHandlersFailuresAreAnsweredAsATasksAre() async throws {
        struct Secret: Error { let detail = "database password is hunter2" }
        var table = RPCHandlerTable()
        table.registerInline(Self.echo) { request, _ in
            if request.message == "refuse" { throw RPCError(code: "NotFoundException", message: "no such key") }
            throw Secret()
        }
        let channel = try await Self.makeChannel(table)
        try await channel.writeInbound(
            Frames.bytes(Frames.request(id: 1, method: "Echo", payload: [0xff, 0xff, 0xff])))
        #expect(try await Self.nextEnvelope(channel).error.code == "SerializationException")

        try await channel.writeInbound(Frames.bytes(Self.echo(id: 2, "refuse")))
        let refused = try await Self.nextEnvelope(channel)
        #expect(refused.requestID == 2)
        #expect(refused.error.code == "NotFoundException")
        #expect(refused.error.message == "no such key")

        try await channel.writeInbound(Frames.bytes(Frames.request(id: 3, method: "Echo")))
        let failed = try await Self.nextEnvelope(channel)
        #expect(failed.error.code == "KMSInternalException")
        #expect(!failed.error.message.contains("hunter2"))
        #expect(channel.isActive)
        _ = try await channel.finish()
    }

    /// A handler that starts inline and hands back the rest runs that rest as a task, as any
    /// other: answered when it ends, out of order, and a failure there mapped as a task's.
    @Test func anInlineStartHandsItsRestToATask() async throws {
        let gate = Gate()
        var table = RPCHandlerTable()
        table.registerStartingInline(Self.echo) { request, _ in
            switch request.message {
            case "now": return .answer(request)
            case "fail later": return .later { throw RPCError(code: "ThrottlingException", message: "busy") }
            default:
                return .later {
                    await gate.wait()
                    return request
                }
            }
        }
        let channel = try await Self.makeChannel(table)
        try await channel.writeInbound(Frames.bytes(Self.echo(id: 1, "later"), Self.echo(id: 2, "now")))
        #expect(try await Self.nextEnvelope(channel).requestID == 2)
        await gate.open()
        let rest = try await Self.nextEnvelope(channel)
        #expect(rest.requestID == 1)
        #expect(try RPCErrorBody(serializedBytes: rest.payload).message == "later")

        try await channel.writeInbound(Frames.bytes(Self.echo(id: 3, "fail later")))
        let failed = try await Self.nextEnvelope(channel)
        #expect(failed.requestID == 3)
        #expect(failed.error.code == "ThrottlingException")
        _ = try await channel.finish()
    }

    /// Callers that run a table without a server (the in-process worker of the tests) and the
    /// AWS JSON endpoint's message path reach an inline handler as any other.
    @Test func anInlineHandlerIsReachedThroughEveryLookup() async throws {
        var table = RPCHandlerTable()
        table.registerInline(Self.echo) { request, _ in request }
        var body = RPCErrorBody()
        body.message = "same"
        let context = RPCRequestContext(
            method: "Echo", requestID: 1, connection: RPCConnectionInfo(id: 1, remoteAddress: nil))
        let raw = try #require(table.handler(for: "Echo"))
        #expect(try RPCErrorBody(serializedBytes: try await raw(try body.serializedBytes(), context)).message == "same")
        let message = try #require(table.messageHandler(for: "Echo"))
        #expect((try await message(body, context) as? RPCErrorBody)?.message == "same")
        #expect(table.inlineHandler(for: "Echo") != nil)
        #expect(table.methods == ["Echo"])
    }

    @Test func refusesAnOversizedFrameWithAnErrorFrameAndCloses() async throws {
        let channel = try await Self.makeChannel(RPCHandlerTable())
        var header = ByteBuffer()
        header.writeInteger(UInt32(1 << 30))
        _ = try? await channel.writeInbound(header)
        let answer = try await Self.nextEnvelope(channel)
        #expect(answer.requestID == 0)
        #expect(answer.error.code == "RequestEntityTooLargeException")
        try await channel.closeFuture.get()
        #expect(!channel.isActive)
    }

    @Test func refusesGarbageWithAnErrorFrameAndCloses() async throws {
        let channel = try await Self.makeChannel(RPCHandlerTable())
        _ = try? await channel.writeInbound(Frames.raw(length: 3, body: [0xde, 0xad, 0xff]))
        let answer = try await Self.nextEnvelope(channel)
        #expect(answer.requestID == 0)
        #expect(answer.error.code == "SerializationException")
        try await channel.closeFuture.get()
    }

    @Test func refusesAZeroLengthFrameWithAnErrorFrameAndCloses() async throws {
        let channel = try await Self.makeChannel(RPCHandlerTable())
        _ = try? await channel.writeInbound(Frames.raw(length: 0, body: []))
        let answer = try await Self.nextEnvelope(channel)
        #expect(answer.error.code == "SerializationException")
        try await channel.closeFuture.get()
    }

    @Test func cancelsRunningRequestsWhenTheConnectionDrops() async throws {
        let started = Gate()
        let cancelled = Gate()
        var table = RPCHandlerTable()
        table.register(RPCMethod<RPCErrorBody, RPCErrorBody>("Forever")) { request, _ in
            await started.open()
            await withTaskCancellationHandler {
                try? await Task.sleep(for: .seconds(3600))
            } onCancel: {
                Task { await cancelled.open() }
            }
            return request
        }
        let channel = try await Self.makeChannel(table)
        try await channel.writeInbound(Frames.bytes(Frames.request(id: 1, method: "Forever")))
        // Requests run as tasks on the connection's event loop; a test loop runs only when driven.
        try await Self.drive(channel, until: started)
        try await channel.close()
        try await Self.drive(channel, until: cancelled)
    }
}

/// A one-shot latch for ordering steps across tasks.
actor Gate {
    private var isOpen = false

    var isOpenNow: Bool { self.isOpen }
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if self.isOpen { return }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    func open() {
        self.isOpen = true
        for waiter in self.waiters { waiter.resume() }
        self.waiters.removeAll()
    }
}
