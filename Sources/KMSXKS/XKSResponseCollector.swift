import NIOCore
import NIOHTTP1

/// Writes one request and completes its promise with the whole answer, or fails it when the
/// connection closes, errs or the answer takes longer than `timeout`. One request at a time.
final class XKSResponseCollector: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Request
    typealias OutboundOut = HTTPClientRequestPart

    struct Request {
        let head: HTTPRequestHead
        let body: [UInt8]
        let promise: EventLoopPromise<Answer>
    }

    struct Answer: Sendable {
        let status: HTTPResponseStatus
        let body: ByteBuffer
        let keepAlive: Bool
    }

    private let timeout: TimeAmount
    private var pending: EventLoopPromise<Answer>?
    private var deadline: Scheduled<Void>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    init(timeout: TimeAmount) { self.timeout = timeout }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = self.unwrapOutboundIn(data)
        guard self.pending == nil else {
            request.promise.fail(ChannelError.inappropriateOperationForState)
            return
        }
        self.pending = request.promise
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.deadline = context.eventLoop.scheduleTask(in: self.timeout) {
            bound.value.0.fail(XKSClientError.timedOut, context: bound.value.1)
        }
        context.write(self.wrapOutboundOut(.head(request.head)), promise: nil)
        context.write(
            self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: request.body)))),
            promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body.clear()
        case .body(var part):
            guard self.body.readableBytes + part.readableBytes <= XKSLimits.maxResponseBodyBytes else {
                self.fail(XKSClientError.invalidResponse("the answer is larger than 64 KiB"), context: context)
                return
            }
            self.body.writeBuffer(&part)
        case .end:
            guard let head = self.head, let pending = self.pending.take() else { return }
            self.head = nil
            self.deadline.take()?.cancel()
            pending.succeed(Answer(status: head.status, body: self.body, keepAlive: head.isKeepAlive))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(error, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.deadline.take()?.cancel()
        self.pending.take()?.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        self.deadline.take()?.cancel()
        self.pending.take()?.fail(error)
        context.close(promise: nil)
    }
}
