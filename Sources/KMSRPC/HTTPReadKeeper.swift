import NIOCore
import NIOHTTP1

/// Keeps an HTTP/1.1 connection's read interest while at most one request is unanswered.
///
/// NIO's `HTTPServerPipelineHandler` holds every read while an answer is pending, so that
/// pipelined requests wait in the socket rather than in memory. For a client that sends one
/// request at a time, as the AWS SDKs do, that drops the socket's read interest and registers
/// it again around every request: two `epoll_ctl` calls a request, with nothing to hold back.
/// Placed between the HTTP decoder and that handler, this one asks for the next read itself
/// while no more than one request is unanswered; a client pipelining more meets NIO's hold as
/// before, and what it sent past that stays in the socket. Answers still go out in order and
/// a graceful shutdown still closes the connection after the answer in progress: both remain
/// NIO's handler's work.
final class HTTPReadKeeper: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Requests whose end has arrived, less answers whose end has been written. An answer written
    /// before its request ended (a body too large, a request too slow) takes it below zero until
    /// that end arrives, or for good when the connection then closes.
    private var unanswered = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = Self.unwrapInboundIn(data) { self.unanswered += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = Self.unwrapOutboundIn(data) { self.unanswered -= 1 }
        context.write(data, promise: promise)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        // Toward the socket, past NIO's handler: the channel keeps its read interest registered.
        if self.unanswered <= 1 { context.read() }
    }
}
