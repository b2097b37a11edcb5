import Foundation
import KMSClient
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One keep-alive HTTP/1.1 connection to an AWS JSON endpoint, one request at a time, as an
/// SDK's pooled connection is used: the AWS JSON protocol has no pipelining. Requests are
/// signed with SigV4 by `signer`. A connection closed by the server (its idle timeout, an error)
/// is opened again by the next request.
final class AWSJSONConnection: @unchecked Sendable {
    // @unchecked: `channel` is touched only by the one task that owns this connection (a
    // closed-loop worker), never concurrently.
    private let address: SocketAddress
    private let host: String
    private let tls: NIOSSLContext?
    private let serverHostname: String?
    private let signer: SigV4Signer
    private var channel: Channel?
    /// The loop the connection runs on: its worker's task runs there too (`Lanes.executor`).
    let eventLoop: any EventLoop

    init(url: String, caBundle: String?, signer: SigV4Signer, eventLoop: any EventLoop) throws {
        self.eventLoop = eventLoop
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let hostName = parsed.host,
            scheme == "https" || scheme == "http"
        else { throw ValidationErrorText("--aws-endpoint must be http(s)://host:port, not '\(url)'") }
        let port = parsed.port ?? (scheme == "https" ? 443 : 80)
        self.address = try SocketAddress.makeAddressResolvingHost(hostName, port: port)
        self.host = parsed.port == nil ? hostName : "\(hostName):\(port)"
        self.signer = signer
        if scheme == "https" {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let caBundle { configuration.trustRoots = .file(caBundle) }
            self.tls = try NIOSSLContext(configuration: configuration)
            // An IP address is verified against the certificate's IP SANs; SNI carries names only.
            self.serverHostname = (try? SocketAddress(ipAddress: hostName, port: 0)) == nil ? hostName : nil
        } else {
            self.tls = nil
            self.serverHostname = nil
        }
    }

    /// Sends `X-Amz-Target: TrentService.<operation>` with `body`; returns the response body of
    /// a 200, throws the AWS error's code otherwise.
    func call(_ operation: String, body: [UInt8]) async throws -> ByteBuffer {
        let channel = try await self.connected()
        let target = "TrentService.\(operation)"
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")
        for (name, value) in self.signer.headers(host: self.host, target: target, body: body) {
            head.headers.add(name: name, value: value)
        }
        head.headers.add(name: "Content-Length", value: String(body.count))
        let promise = channel.eventLoop.makePromise(of: (HTTPResponseHead, ByteBuffer).self)
        channel.writeAndFlush(ResponseCollector.Request(head: head, body: body, promise: promise), promise: nil)
        let (response, payload) = try await promise.futureResult.get()
        guard response.status == .ok else { throw Self.error(status: response.status, body: payload) }
        return payload
    }

    func close() async {
        try? await self.channel?.close()
        self.channel = nil
    }

    private func connected() async throws -> Channel {
        if let channel = self.channel, channel.isActive { return channel }
        let tls = self.tls
        let serverHostname = self.serverHostname
        let channel = try await ClientBootstrap(group: self.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector())
                }
            }
            .connect(to: self.address).get()
        self.channel = channel
        return channel
    }

    /// The AWS error's `__type` (an SDK's error code), without its namespace prefix if any.
    static func error(status: HTTPResponseStatus, body: ByteBuffer) -> KMSClientError {
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        let type = (object?["__type"] as? String).map { $0.split(separator: "#").last.map(String.init) ?? $0 }
        let message = object?["message"] as? String ?? object?["Message"] as? String ?? ""
        return KMSClientError(
            code: type ?? "HTTP\(status.code)", message: message, retryable: status.code >= 500)
    }
}

/// Writes a request and completes its promise with the whole response. One request is in
/// flight per connection; a connection that closes fails it.
private final class ResponseCollector: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Request
    typealias OutboundOut = HTTPClientRequestPart

    struct Request {
        let head: HTTPRequestHead
        let body: [UInt8]
        let promise: EventLoopPromise<(HTTPResponseHead, ByteBuffer)>
    }

    private var pending: EventLoopPromise<(HTTPResponseHead, ByteBuffer)>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = self.unwrapOutboundIn(data)
        guard self.pending == nil else {
            request.promise.fail(ChannelError.inappropriateOperationForState)
            return
        }
        self.pending = request.promise
        context.write(self.wrapOutboundOut(.head(request.head)), promise: nil)
        context.write(
            self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: request.body)))),
            promise: nil)
        context.write(self.wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body.clear()
        case .body(var part):
            self.body.writeBuffer(&part)
        case .end:
            guard let head = self.head, let pending = self.pending.take() else { return }
            self.head = nil
            pending.succeed((head, self.body))
            if !head.isKeepAlive { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.pending.take()?.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.pending.take()?.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}
