import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// One HTTP/1.1 GET on a new connection (`Connection: close`): the status code and the body, as
/// a probe (kubelet, a load balancer) sees them. Throws when nothing listens.
public func httpGet(_ path: String, port: Int, host: String = "127.0.0.1") async throws -> (status: Int, body: String) {
    let received = Once(MultiThreadedEventLoopGroup.singleton.any().makePromise(of: [UInt8].self))
    do {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReadToEnd(received: received))
                }
            }
            .connect(host: host, port: port).get()
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request))
    } catch {
        // Nothing to read (nobody listens): the promise must not be left unfulfilled.
        received.complete(.failure(error))
        throw error
    }
    let bytes = try await received.promise.futureResult.get()
    let text = String(decoding: bytes, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first,
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }),
        let split = text.range(of: "\r\n\r\n")
    else { throw WorkerTestError("not an HTTP answer: \(text.prefix(200))") }
    return (status, String(text[split.upperBound...]))
}

/// `httpGet` repeated until `accept` holds, at most `limit` (a bound, not a pause): the last
/// answer, or the last error's text as status 0.
public func pollHTTP(
    _ path: String, port: Int, within limit: Duration = .seconds(60),
    until accept: (_ status: Int, _ body: String) -> Bool
) async -> (status: Int, body: String) {
    let end = ContinuousClock.now + limit
    var last: (status: Int, body: String) = (0, "")
    while true {
        do {
            last = try await httpGet(path, port: port)
        } catch {
            last = (0, "\(error)")
        }
        if accept(last.status, last.body) || ContinuousClock.now >= end { return last }
        try? await Task.sleep(for: .milliseconds(50))
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (bound, then released), for a
/// child process to listen on. Taken below the kernel's ephemeral range: a port bind(0) had
/// handed out and this released was the next bind(0)'s, in this process or another test's
/// kmsd, which then held the port its caller meant for something else (seen in whole runs).
public func freeLoopbackPort() async throws -> Int {
    let ephemeral =
        (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
        .flatMap { $0.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } } ?? 32768
    let range = 10_000..<max(10_001, min(ephemeral, 65_536))
    for _ in 0..<64 {
        let candidate = Int.random(in: range)
        guard
            let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: candidate).get()
        else { continue }
        try await channel.close()
        return candidate
    }
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}

/// A promise completed once, by whichever side gets there first (the handler, or a failed connect).
private final class Once: Sendable {
    let promise: EventLoopPromise<[UInt8]>
    private let done = Atomic<Bool>(false)

    init(_ promise: EventLoopPromise<[UInt8]>) {
        self.promise = promise
    }

    func complete(_ result: Result<[UInt8], any Error>) {
        guard !self.done.exchange(true, ordering: .relaxed) else { return }
        self.promise.completeWith(result)
    }
}

private final class ReadToEnd: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let received: Once
    var bytes: [UInt8] = []

    init(received: Once) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        self.bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.received.complete(.success(self.bytes))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.received.complete(.failure(error))
        context.close(promise: nil)
    }
}

/// Whether a TCP connection to `host`:`port` is accepted right now (closed again at once).
public func acceptsConnections(host: String, port: Int) async -> Bool {
    guard
        let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5)).connect(host: host, port: port).get()
    else { return false }
    try? await channel.close()
    return true
}

/// Splits "host:port", as KMSDProcess's endpoints are written.
public func splitEndpoint(_ endpoint: String) -> (host: String, port: Int) {
    let colon = endpoint.lastIndex(of: ":") ?? endpoint.endIndex
    let port = colon < endpoint.endIndex ? Int(endpoint[endpoint.index(after: colon)...]) ?? 0 : 0
    return (String(endpoint[..<colon]), port)
}
