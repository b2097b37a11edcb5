import KMSXKS
import NIOCore
import NIOHTTP1

/// One connection's HTTP/1.1 requests: collects a request (refusing a body over the API's
/// limit before reading further), hands it to the service, writes the answer; keep-alive.
/// Requests on a connection are answered in order, one at a time.
final class XKSProxyHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let service: XKSProxyService
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    /// Set once the body went over the limit: the rest of the request is dropped and answered with an error.
    private var oversized = false

    init(service: XKSProxyService) { self.service = service }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body = context.channel.allocator.buffer(capacity: 0)
            self.oversized = false
            if let length = head.headers.first(name: "content-length").flatMap(Int.init),
                length > XKSLimits.maxRequestBodyBytes
            {
                self.oversized = true
            }
        case .body(var part):
            guard !self.oversized else { return }
            if (self.body?.readableBytes ?? 0) + part.readableBytes > XKSLimits.maxRequestBodyBytes {
                self.oversized = true
                self.body = nil
                return
            }
            self.body?.writeBuffer(&part)
        case .end:
            guard let head = self.head.take() else { return }
            let body = self.body.take()
            if self.oversized {
                let error = XKSError(.validation, "The request body is larger than this proxy accepts.")
                self.write(
                    context: context, status: error.httpStatus, body: XKSProxyService.json(error.body), keepAlive: false
                )
                return
            }
            let request = XKSProxyRequest(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                body: body.map { Array($0.readableBytesView) } ?? [])
            let keepAlive = head.isKeepAlive
            let service = self.service
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let promise = context.eventLoop.makePromise(of: XKSProxyService.Answer.self)
            promise.completeWithTask { await service.handle(request) }
            promise.futureResult.whenSuccess { answer in
                let (handler, context) = bound.value
                handler.write(context: context, status: answer.status, body: answer.body, keepAlive: keepAlive)
            }
        }
    }

    private func write(context: ChannelHandlerContext, status: Int, body: [UInt8], keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(
            self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let done = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
