import NIOCore
import NIOHTTP1
import NIOPosix

/// GET /metrics on its own listener, for Prometheus to scrape. `render` produces the body
/// (kmsd passes its Prometheus registry's text exposition).
public enum MetricsEndpoint {
    /// Binds to `address` and serves `render`'s output at GET /metrics until the returned channel is closed.
    public static func bind(to address: SocketAddress, render: @escaping @Sendable () -> [UInt8]) async throws
        -> any Channel
    {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(render: render))
                }
            }
            .bind(to: address).get()
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let render: @Sendable () -> [UInt8]
        var head: HTTPRequestHead?

        init(render: @escaping @Sendable () -> [UInt8]) {
            self.render = render
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch Self.unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head = self.head else { return }
                let found = head.method == .GET && head.uri.split(separator: "?").first == "/metrics"
                let body = found ? self.render() : Array("GET /metrics\n".utf8)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4" : "text/plain")
                headers.add(name: "Content-Length", value: "\(body.count)")
                context.write(
                    Self.wrapOutboundOut(
                        .head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound, headers: headers))),
                    promise: nil)
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
                context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
                self.head = nil
            }
        }
    }
}
