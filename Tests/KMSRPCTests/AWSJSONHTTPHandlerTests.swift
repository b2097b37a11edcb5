import Foundation
import KMSRPC
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The AWS JSON endpoint's HTTP handling (kmsd's and kms-agent's), through the pipeline they
/// build: answers as one write, the arrival deadline, header lookups.
struct AWSJSONHTTPHandlerTests {
    private static let request = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"

    private func channel(limits: AWSJSONLimits = .init()) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        try await channel.eventLoop.submit {
            let operations = channel.pipeline.syncOperations
            try AWSJSONHTTPHandler.addHTTPServerHandlers(to: operations, overTLS: true)
            try operations.addHandler(
                AWSJSONHTTPHandler(limits: limits, newRequestID: { "own-id" }) { request in
                    AWSJSONAnswer(status: .ok, requestID: "r1", body: Data("{\"bytes\":\(request.body.count)}".utf8))
                })
        }.get()
        // A connected peer: the handler answers only on an active channel.
        try await channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 443))
        return channel
    }

    /// The next buffer written, once the request's task (which runs on the channel's loop) has
    /// run; nil when nothing is written within a second.
    private func nextWrite(_ channel: NIOAsyncTestingChannel) async throws -> String? {
        for _ in 0..<1000 {
            await channel.testingEventLoop.run()
            if case .byteBuffer(let buffer) = try await channel.readOutbound(as: IOData.self) {
                return String(buffer: buffer)
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        return nil
    }

    @Test func anAnswerOverTLSIsOneWrite() async throws {
        let channel = try await self.channel()
        try await channel.writeInbound(ByteBuffer(string: Self.request))
        let text = try #require(try await self.nextWrite(channel))
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(text.contains("x-amzn-RequestId: r1\r\n"))
        #expect(text.hasSuffix("\r\n\r\n{\"bytes\":2}"))
        // Nothing else: the head and the body went down as one buffer (one TLS record).
        #expect(try await channel.readOutbound(as: IOData.self) == nil)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test func aRequestStillArrivingIsCutOffAfterTheLimitFromItsHead() async throws {
        var limits = AWSJSONLimits()
        limits.requestTimeout = .seconds(10)
        let channel = try await self.channel(limits: limits)
        try await channel.writeInbound(ByteBuffer(string: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{"))
        await channel.testingEventLoop.advanceTime(by: .seconds(9))
        #expect(try await channel.readOutbound(as: IOData.self) == nil)
        // More of the body does not move the deadline: it runs from the head.
        try await channel.writeInbound(ByteBuffer(string: "\"a\""))
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        let text = try #require(try await self.nextWrite(channel))
        #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(text.contains("RequestTimeoutException"))
        #expect(text.contains("Connection: close\r\n"))
    }

    @Test func aWholeRequestIsNotCutOffWhileItsAnswerIsWritten() async throws {
        var limits = AWSJSONLimits()
        limits.requestTimeout = .seconds(1)
        let channel = try await self.channel(limits: limits)
        for _ in 0..<3 {
            try await channel.writeInbound(ByteBuffer(string: Self.request))
            #expect(try await self.nextWrite(channel)?.hasPrefix("HTTP/1.1 200 OK\r\n") == true)
            await channel.testingEventLoop.advanceTime(by: .seconds(5))
            #expect(try await channel.readOutbound(as: IOData.self) == nil)
        }
        #expect(channel.isActive)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    /// A channel counting the reads that reach its socket, with the endpoint's pipeline above.
    private func countingChannel() async throws -> (NIOAsyncTestingChannel, ReadCounter) {
        let channel = try await self.channel()
        let counter = ReadCounter()
        try await channel.pipeline.addHandler(counter, position: .first)
        return (channel, counter)
    }

    /// One request at a time, as the SDKs send them: the socket's read interest is kept while the
    /// answer is pending (NIO's pipeline handler alone holds that read, which drops the interest
    /// and registers it again around every request).
    @Test func aLoneRequestKeepsTheConnectionReading() async throws {
        let (channel, counter) = try await self.countingChannel()
        for round in 1...3 {
            let before = counter.reads
            try await channel.writeInbound(ByteBuffer(string: Self.request))
            // The answer is still pending: its task has not run on the testing loop yet.
            #expect(counter.reads > before, "round \(round)")
            #expect(try await self.nextWrite(channel)?.hasPrefix("HTTP/1.1 200 OK\r\n") == true)
        }
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    /// A client pipelining requests meets NIO's hold once two are unanswered, and is answered in
    /// order.
    @Test func pipelinedRequestsAreHeldBackAndAnsweredInOrder() async throws {
        let (channel, counter) = try await self.countingChannel()
        let second = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\"ab\""
        let before = counter.reads
        try await channel.writeInbound(ByteBuffer(string: Self.request + second))
        // The read the channel asks for after each read burst (autoRead): NIO's handler holds it.
        try await channel.testingEventLoop.executeInContext { channel.pipeline.read() }
        #expect(counter.reads == before)
        #expect(try await self.nextWrite(channel)?.hasSuffix("{\"bytes\":2}") == true)
        #expect(try await self.nextWrite(channel)?.hasSuffix("{\"bytes\":4}") == true)
        // Both answered: NIO's handler lets the held read through.
        #expect(counter.reads > before)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test func headerNamesCompareWithoutASCIICaseOnly() {
        let request = HTTPRequest(
            method: "POST", uri: "/",
            headers: [("X-Amz-Target", "TrentService.Encrypt"), ("x-amz-date", "d"), ("X-AMZ-DATE", "e")], body: [])
        #expect(request.header("x-amz-target") == "TrentService.Encrypt")
        #expect(request.header("x-amz-date") == "d")
        #expect(request.count("x-amz-date") == 2)
        #expect(request.header("x-amz-targe") == nil)
        // The Kelvin sign lowers to "k" in Unicode, not in HTTP.
        let kelvin = HTTPRequest(method: "POST", uri: "/", headers: [("\u{212A}ey", "v")], body: [])
        #expect(kelvin.header("key") == nil)
    }
}

/// Counts the reads that reach the socket end of the pipeline.
final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = Any
    private(set) var reads = 0

    func read(context: ChannelHandlerContext) {
        self.reads += 1
        context.read()
    }
}

/// `WriteGathering`: what is written before a flush goes on as one buffer, in order.
struct WriteGatheringTests {
    private func channel() async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        try await channel.pipeline.addHandler(WriteGathering())
        return channel
    }

    @Test func writesBeforeAFlushGoAsOneAndEveryPromiseCompletes() async throws {
        let channel = try await self.channel()
        let first = channel.write(IOData.byteBuffer(ByteBuffer(string: "head|")))
        let second = channel.write(IOData.byteBuffer(ByteBuffer(string: "body")))
        #expect(try await channel.readOutbound(as: IOData.self) == nil)
        channel.flush()
        try await first.get()
        try await second.get()
        #expect(try await channel.readOutbound(as: IOData.self) == .byteBuffer(ByteBuffer(string: "head|body")))
        #expect(try await channel.readOutbound(as: IOData.self) == nil)
        _ = try await channel.finish()
    }

    @Test func aWriteLargerThanARecordGoesOnItsOwnAfterWhatWasGathered() async throws {
        let channel = try await self.channel()
        let large = ByteBuffer(repeating: 7, count: 20_000)
        channel.write(IOData.byteBuffer(ByteBuffer(string: "head")), promise: nil)
        channel.write(IOData.byteBuffer(large), promise: nil)
        channel.write(IOData.byteBuffer(ByteBuffer(string: "end")), promise: nil)
        channel.flush()
        #expect(try await channel.readOutbound(as: IOData.self) == .byteBuffer(ByteBuffer(string: "head")))
        #expect(try await channel.readOutbound(as: IOData.self) == .byteBuffer(large))
        #expect(try await channel.readOutbound(as: IOData.self) == .byteBuffer(ByteBuffer(string: "end")))
        _ = try await channel.finish()
    }
}
