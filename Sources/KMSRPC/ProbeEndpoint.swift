import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 listener answering GET on a few fixed paths: kmsd's metrics listener
/// (`/metrics`, `/healthz`, `/readyz`) and kms-cryptod's health listener (`/healthz`,
/// `/readyz`). Anything else is 404; it reads no body and serves nothing but its routes.
public enum ProbeEndpoint {
    /// One answer: a status code and a plain-text body.
    public struct Answer: Sendable {
        /// The HTTP status code (200, 503, ...).
        public var status: Int
        /// The Content-Type header.
        public var contentType: String
        /// The body.
        public var body: [UInt8]

        /// An answer of `status` with `body` as `contentType`.
        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        /// 200 "ok": the process runs (a liveness probe checks nothing else).
        public static let alive = Answer(status: 200, body: Array("ok\n".utf8))
    }

    /// What answers GET on one path. Called off the event loop; may take as long as it needs
    /// (readiness checks are bounded and cached by `Readiness`).
    public typealias Route = @Sendable () async -> Answer

    /// Binds to `address` and answers GET on `routes`' paths (the query string ignored) until
    /// the returned channel is closed.
    public static func bind(
        to address: SocketAddress, routes: [String: Route],
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The pipelining helper hands over one request at a time, so answers that
                    // come later (from a task) still leave in order.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(routes: routes))
                }
            }
            .bind(to: address).get()
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let routes: [String: Route]
        var head: HTTPRequestHead?

        init(routes: [String: Route]) {
            self.routes = routes
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch Self.unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head = self.head else { return }
                self.head = nil
                let path = head.uri.split(separator: "?", omittingEmptySubsequences: false).first.map(String.init)
                guard head.method == .GET, let path, let route = self.routes[path] else {
                    let paths = self.routes.keys.sorted().joined(separator: ", ")
                    self.send(
                        context: context, Answer(status: 404, body: Array("GET \(paths)\n".utf8)),
                        keepAlive: head.isKeepAlive)
                    return
                }
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let eventLoop = context.eventLoop
                let keepAlive = head.isKeepAlive
                Task {
                    let answer = await route()
                    eventLoop.execute {
                        let (handler, context) = loopBound.value
                        handler.send(context: context, answer, keepAlive: keepAlive)
                    }
                }
            }
        }

        private func send(context: ChannelHandlerContext, _ answer: Answer, keepAlive: Bool) {
            guard context.channel.isActive else { return }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: answer.contentType)
            headers.add(name: "Content-Length", value: "\(answer.body.count)")
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let status = HTTPResponseStatus(statusCode: answer.status)
            context.write(
                Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                promise: nil)
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer.body)))), promise: nil)
            let done = context.writeAndFlush(Self.wrapOutboundOut(.end(nil)))
            if !keepAlive {
                done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        }
    }
}
