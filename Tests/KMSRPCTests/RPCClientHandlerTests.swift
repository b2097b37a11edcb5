import Foundation
import KMSRPC
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

/// The client end over a test channel: calls in, envelopes out, answers fed back by hand.
@Suite struct RPCClientHandlerTests {
    static func makeChannel() async throws -> NIOAsyncTestingChannel {
        let channel = try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(RPCClientHandler(maxFrameLength: 4096))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        return channel
    }

    static func call(
        _ channel: NIOAsyncTestingChannel, _ method: String, timeout: TimeAmount = .seconds(5), payload: [UInt8] = []
    ) async throws -> EventLoopFuture<Data> {
        let promise = channel.eventLoop.makePromise(of: Data.self)
        // A refused write also fails the call's promise, which is what the tests look at.
        _ = try? await channel.writeOutbound(
            RPCOutboundCall(method: method, payload: Data(payload), timeout: timeout, promise: promise))
        return promise.futureResult
    }

    static func answer(_ request: RPCEnvelope, payload: [UInt8]) -> RPCEnvelope {
        var answer = RPCEnvelope()
        answer.requestID = request.requestID
        answer.method = request.method
        answer.payload = .init(payload)
        return answer
    }

    @Test func matchesAnswersToCallsInAnyOrder() async throws {
        let channel = try await Self.makeChannel()
        let first = try await Self.call(channel, "A")
        let second = try await Self.call(channel, "B")
        let third = try await Self.call(channel, "C")
        let requests = [
            try #require(try await channel.readOutbound(as: RPCEnvelope.self)),
            try #require(try await channel.readOutbound(as: RPCEnvelope.self)),
            try #require(try await channel.readOutbound(as: RPCEnvelope.self)),
        ]
        #expect(Set(requests.map(\.requestID)).count == 3)
        #expect(!requests.map(\.requestID).contains(0))

        try await channel.writeInbound(Self.answer(requests[2], payload: [3]))
        try await channel.writeInbound(Self.answer(requests[0], payload: [1]))
        var failure = RPCEnvelope()
        failure.requestID = requests[1].requestID
        failure.error.code = "NotFoundException"
        failure.error.message = "no such key"
        try await channel.writeInbound(failure)

        #expect(try await third.get() == Data([3]))
        #expect(try await first.get() == Data([1]))
        await #expect(throws: RPCError(code: "NotFoundException", message: "no such key")) {
            try await second.get()
        }
        _ = try await channel.finish()
    }

    @Test func timesOutAndDropsALateAnswer() async throws {
        let channel = try await Self.makeChannel()
        let call = try await Self.call(channel, "Slow", timeout: .milliseconds(100))
        let request = try #require(try await channel.readOutbound(as: RPCEnvelope.self))
        await channel.testingEventLoop.advanceTime(by: .milliseconds(101))
        await #expect(throws: RPCError.timeout(method: "Slow")) { try await call.get() }
        // The late answer finds no call and is ignored.
        try await channel.writeInbound(Self.answer(request, payload: [1]))
        #expect(try await channel.readInbound(as: RPCEnvelope.self) == nil)
        _ = try await channel.finish()
    }

    /// One timer serves every call: each still fails at its own deadline, whatever the order
    /// of their timeouts, and an answered call never does.
    @Test func eachCallTimesOutAtItsOwnDeadline() async throws {
        let channel = try await Self.makeChannel()
        let long = try await Self.call(channel, "Long", timeout: .milliseconds(300))
        let short = try await Self.call(channel, "Short", timeout: .milliseconds(100))
        let answered = try await Self.call(channel, "Answered", timeout: .milliseconds(50))
        _ = try await channel.readOutbound(as: RPCEnvelope.self)
        _ = try await channel.readOutbound(as: RPCEnvelope.self)
        let third = try #require(try await channel.readOutbound(as: RPCEnvelope.self))
        try await channel.writeInbound(Self.answer(third, payload: [7]))
        #expect(try await answered.get() == Data([7]))

        await channel.testingEventLoop.advanceTime(by: .milliseconds(99))
        await channel.testingEventLoop.advanceTime(by: .milliseconds(2))
        await #expect(throws: RPCError.timeout(method: "Short")) { try await short.get() }
        // A call made after the timer fired gets its own deadline too (t = 101 + 400 ms).
        let later = try await Self.call(channel, "Later", timeout: .milliseconds(400))
        let laterEnded = Mutex(false)
        later.whenComplete { _ in laterEnded.withLock { $0 = true } }
        await channel.testingEventLoop.advanceTime(by: .milliseconds(200))
        await #expect(throws: RPCError.timeout(method: "Long")) { try await long.get() }
        await channel.testingEventLoop.advanceTime(by: .milliseconds(198))
        #expect(!laterEnded.withLock { $0 })
        let request = try #require(try await channel.readOutbound(as: RPCEnvelope.self))
        #expect(request.method == "Later")
        await channel.testingEventLoop.advanceTime(by: .milliseconds(3))
        await #expect(throws: RPCError.timeout(method: "Later")) { try await later.get() }
        _ = try await channel.finish()
    }

    @Test func failsEveryCallInFlightWhenTheConnectionDrops() async throws {
        let channel = try await Self.makeChannel()
        let calls = [
            try await Self.call(channel, "A"),
            try await Self.call(channel, "B"),
            try await Self.call(channel, "C"),
        ]
        try await channel.close()
        for call in calls {
            await #expect(throws: RPCError.connectionClosed()) { try await call.get() }
        }
    }

    @Test func failsEveryCallOnAConnectionLevelError() async throws {
        let channel = try await Self.makeChannel()
        let call = try await Self.call(channel, "A")
        var error = RPCEnvelope()
        error.error.code = "SerializationException"
        error.error.message = "frame is not a valid request envelope"
        try await channel.writeInbound(error)
        await #expect(
            throws: RPCError(code: "SerializationException", message: "frame is not a valid request envelope")
        ) {
            try await call.get()
        }
        // Later calls fail at once rather than waiting for a server that is closing.
        let later = try await Self.call(channel, "B")
        await #expect(throws: RPCError.connectionClosed()) { try await later.get() }
        _ = try? await channel.finish()
    }

    @Test func refusesARequestLargerThanTheFrameLimit() async throws {
        let channel = try await Self.makeChannel()
        let call = try await Self.call(channel, "Big", payload: [UInt8](repeating: 0, count: 5000))
        await #expect(throws: RPCError.self) { try await call.get() }
        #expect(try await channel.readOutbound(as: RPCEnvelope.self) == nil)
        _ = try await channel.finish()
    }
}
