import KMSRPC
import NIOCore
import NIOEmbedded
import Testing

/// A connection told to quiesce (a graceful shutdown): what it has in flight is answered, what
/// arrives afterwards is refused (retryable), and it closes after its last answer.
@Suite struct RPCServerDrainTests {
    @Test func answersWhatIsInFlightRefusesWhatComesAfterAndCloses() async throws {
        let gate = Gate()
        var table = RPCHandlerTable()
        table.register(RPCMethod<RPCErrorBody, RPCErrorBody>("Slow")) { request, _ in
            await gate.wait()
            return request
        }
        table.register(RPCServerHandlerTests.echo) { request, _ in request }
        let channel = try await RPCServerHandlerTests.makeChannel(table)
        try await channel.writeInbound(Frames.bytes(Frames.request(id: 1, method: "Slow")))
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        await channel.testingEventLoop.run()
        #expect(channel.isActive)

        try await channel.writeInbound(Frames.bytes(Frames.request(id: 2, method: "Echo")))
        let refused = try await RPCServerHandlerTests.nextEnvelope(channel)
        #expect(refused.requestID == 2)
        #expect(refused.error.code == "KMSInternalException")
        #expect(refused.error.retryable)
        #expect(refused.error.message.contains("shutting down"))
        #expect(channel.isActive)

        await gate.open()
        let answered = try await RPCServerHandlerTests.nextEnvelope(channel)
        #expect(answered.requestID == 1)
        #expect(answered.error.code.isEmpty)
        for _ in 0..<100 where channel.isActive {
            await channel.testingEventLoop.run()
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(!channel.isActive)
    }

    @Test func anIdleConnectionClosesAtOnce() async throws {
        var table = RPCHandlerTable()
        table.register(RPCServerHandlerTests.echo) { request, _ in request }
        let channel = try await RPCServerHandlerTests.makeChannel(table)
        try await channel.writeInbound(Frames.bytes(Frames.request(id: 1, method: "Echo")))
        #expect(try await RPCServerHandlerTests.nextEnvelope(channel).requestID == 1)
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        await channel.testingEventLoop.run()
        #expect(!channel.isActive)
    }
}
