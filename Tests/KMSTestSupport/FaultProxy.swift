import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A forwarder of our own between a client and a server, on loopback TCP or a Unix socket,
/// whose behaviour a test switches while traffic flows: kmsd is pointed at it instead of at
/// PostgreSQL (the database URL's port) or kms-cryptod (the worker socket), and the test puts
/// a fault between them without touching either process.
///
/// Each accepted connection gets its own connection to the server, both on one event loop;
/// bytes go through a queue per direction, so switching modes never reorders them.
public final class FaultProxy: Sendable {
    public enum Mode: Sendable, Equatable, CustomStringConvertible {
        /// Forward as they come.
        case pass
        /// Forward nothing either way and read nothing more (the peers' writes back up, as over
        /// a partition); connections stay open, new ones are accepted but not carried on. What
        /// was held is delivered, in order, when the mode changes back.
        case stall
        /// Hold each chunk this long after it arrived (added latency, order kept).
        case slow(Duration)
        /// Reset every connection, and each new one as soon as it is accepted.
        case drop
        /// Replace each chunk the server sends with a frame of random bytes of the same length
        /// (a 4-byte big-endian length, then that many random bytes: the framing kmsd and
        /// kms-cryptod speak, so the garbage gets past the length check to the envelope's
        /// decoding); the client's bytes still reach the server. A peer answering garbage.
        case garbage
        /// Forward the client's bytes; hold the server's answers (delivered when the mode
        /// changes back, if the connection is still open). The server does the work and the
        /// client never hears of it: a commit whose answer is lost.
        case deaf

        public var description: String {
            switch self {
            case .pass: "pass"
            case .stall: "stall"
            case .slow(let delay): "slow(\(delay))"
            case .drop: "drop"
            case .garbage: "garbage"
            case .deaf: "deaf"
            }
        }
    }

    struct State {
        var mode: Mode = .pass
        var links: [ObjectIdentifier: ProxyLink] = [:]
        var accepted = 0
        var readsFromClients = 0
        var random: SplitMix64
    }

    let state: Mutex<State>
    let upstream: SocketAddress
    private let server: any Channel
    private let group: any EventLoopGroup
    /// Where clients connect: the listening address's port, or the Unix socket's path.
    public let port: Int?
    public let path: String?

    /// A proxy on a free port of `address` (default loopback) in front of the TCP server at
    /// `host`:`port`.
    public static func tcp(
        listeningOn address: String = "127.0.0.1", to host: String, port: Int, seed: UInt64 = 16
    ) async throws -> FaultProxy {
        try await FaultProxy(
            listen: try SocketAddress(ipAddress: address, port: 0),
            upstream: try SocketAddress.makeAddressResolvingHost(host, port: port), seed: seed
        )
    }

    /// A proxy listening on the Unix socket `path` in front of the one at `upstream`.
    public static func unix(at path: String, to upstream: String, seed: UInt64 = 16) async throws -> FaultProxy {
        try await FaultProxy(
            listen: try SocketAddress(unixDomainSocketPath: path),
            upstream: try SocketAddress(unixDomainSocketPath: upstream), seed: seed)
    }

    init(listen: SocketAddress, upstream: SocketAddress, seed: UInt64) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        self.group = group
        self.upstream = upstream
        let state = Mutex(State(random: SplitMix64(seed: seed)))
        self.state = state
        // The initializer runs before `self` exists; it reaches the proxy through this box.
        let owner = ProxyOwner()
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                guard let proxy = owner.proxy.withLock({ $0 }) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let link = ProxyLink(proxy: proxy, client: channel)
                    try channel.pipeline.syncOperations.addHandler(ProxySide(link: link, fromClient: true))
                }
            }
        if listen.protocol != .unix {
            bootstrap = bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        if let path = listen.pathname { unlink(path) }
        self.server = try await bootstrap.bind(to: listen).get()
        self.port = listen.protocol == .unix ? nil : self.server.localAddress?.port
        self.path = listen.pathname
        owner.proxy.withLock { $0 = self }
    }

    /// The current mode.
    public var mode: Mode { self.state.withLock { $0.mode } }

    /// Connections accepted so far.
    public var acceptedConnections: Int { self.state.withLock { $0.accepted } }

    /// Reads from clients so far, carried on or held: a test that stalls the server waits for
    /// this to grow to know its request reached the proxy, rather than sleeping.
    public var readsFromClients: Int { self.state.withLock { $0.readsFromClients } }
    /// Connections carried now (reset ones are gone from the count).
    public var openConnections: Int { self.state.withLock { $0.links.count } }

    /// Switches every connection, open or to come, to `mode`.
    public func set(_ mode: Mode) {
        let links = self.state.withLock { state -> [ProxyLink] in
            state.mode = mode
            return Array(state.links.values)
        }
        for link in links { link.eventLoop.execute { link.modeChanged() } }
    }

    /// Stops listening and resets every connection.
    public func close() async {
        self.set(.drop)
        try? await self.server.close()
        if let path { unlink(path) }
    }

    /// A client connected: its link starts as the current mode says.
    func register(_ link: ProxyLink) {
        self.state.withLock { state in
            state.accepted += 1
            state.links[ObjectIdentifier(link)] = link
        }
        link.modeChanged()
    }

    func forget(_ link: ProxyLink) {
        _ = self.state.withLock { $0.links.removeValue(forKey: ObjectIdentifier(link)) }
    }

    /// `count` bytes: a frame of random bytes when there is room for one, else random bytes.
    func garbageFrame(_ count: Int) -> ByteBuffer {
        let random = self.state.withLock { state in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count + 8)
            while bytes.count < count { withUnsafeBytes(of: state.random.next()) { bytes += $0 } }
            return Array(bytes.prefix(count))
        }
        guard count > 4 else { return ByteBuffer(bytes: random) }
        var frame = ByteBuffer()
        frame.writeInteger(UInt32(count - 4), endianness: .big)
        frame.writeBytes(random.dropFirst(4))
        return frame
    }
}

private final class ProxyOwner: Sendable {
    let proxy = Mutex<FaultProxy?>(nil)
}

/// One client connection and its server connection, both on the client's event loop; every
/// method runs there.
final class ProxyLink: @unchecked Sendable {
    struct Chunk {
        var bytes: ByteBuffer
        let arrived: NIODeadline
    }

    /// The bytes one way: held in order until the mode lets them through.
    struct Lane {
        var queue: [Chunk] = []
        var timer: Scheduled<Void>?
    }

    let proxy: FaultProxy
    let client: any Channel
    var server: (any Channel)?
    var connecting = false
    var closed = false
    var toServer = Lane()
    var toClient = Lane()
    var eventLoop: any EventLoop { self.client.eventLoop }

    init(proxy: FaultProxy, client: any Channel) {
        self.proxy = proxy
        self.client = client
    }

    /// Applies the proxy's current mode: connects to the server once the mode allows it,
    /// resets on drop, and moves whatever waits.
    func modeChanged() {
        guard !self.closed else { return }
        let mode = self.proxy.mode
        if mode == .drop { return self.reset() }
        if self.server == nil {
            if mode != .stall, !self.connecting { self.connect() }
            return
        }
        self.pump(toServer: true)
        self.pump(toServer: false)
    }

    private func connect() {
        self.connecting = true
        var bootstrap = ClientBootstrap(group: self.eventLoop)
            .connectTimeout(.seconds(5))
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProxySide(link: self, fromClient: false))
                }
            }
        if self.proxy.upstream.protocol != .unix {
            bootstrap = bootstrap.channelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        bootstrap.connect(to: self.proxy.upstream).whenComplete { result in
            self.connecting = false
            switch result {
            case .success(let server):
                guard !self.closed else {
                    server.close(promise: nil)
                    return
                }
                self.server = server
                self.modeChanged()
            case .failure:
                // The server refuses: so does the proxy.
                self.reset()
            }
        }
    }

    func received(_ bytes: ByteBuffer, fromClient: Bool) {
        guard !self.closed else { return }
        if fromClient { self.proxy.state.withLock { $0.readsFromClients += 1 } }
        let chunk = Chunk(bytes: bytes, arrived: .now())
        if fromClient { self.toServer.queue.append(chunk) } else { self.toClient.queue.append(chunk) }
        self.pump(toServer: fromClient)
    }

    /// Moves one lane's chunks as the mode allows, and reads on from its source only while it
    /// is not stalled.
    private func pump(toServer: Bool) {
        guard !self.closed, let server = self.server else { return }
        let (source, destination) = toServer ? (self.client, server) : (server, self.client)
        var lane = toServer ? self.toServer : self.toClient
        defer { if toServer { self.toServer = lane } else { self.toClient = lane } }
        let mode = self.proxy.mode
        var wrote = false
        loop: while let first = lane.queue.first {
            switch mode {
            case .drop:
                break loop
            case .stall:
                break loop
            case .deaf:
                guard toServer else { break loop }
                destination.write(first.bytes, promise: nil)
            case .pass:
                destination.write(first.bytes, promise: nil)
            case .garbage:
                if toServer {
                    destination.write(first.bytes, promise: nil)
                } else {
                    destination.write(self.proxy.garbageFrame(first.bytes.readableBytes), promise: nil)
                }
            case .slow(let delay):
                let due =
                    first.arrived
                    + TimeAmount.nanoseconds(
                        delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
                guard due <= .now() else {
                    if lane.timer == nil {
                        lane.timer = self.eventLoop.scheduleTask(deadline: due) {
                            if toServer { self.toServer.timer = nil } else { self.toClient.timer = nil }
                            self.pump(toServer: toServer)
                        }
                    }
                    break loop
                }
                destination.write(first.bytes, promise: nil)
            }
            lane.queue.removeFirst()
            wrote = true
        }
        if wrote { destination.flush() }
        if mode == .drop {
            self.reset()
        } else if mode == .stall || (mode == .deaf && !toServer) {
            source.setOption(.autoRead, value: false).whenComplete { _ in }
        } else {
            source.setOption(.autoRead, value: true).whenComplete { _ in }
            source.read()
        }
    }

    /// Resets both connections (RST on TCP, a plain close on a Unix socket) and forgets them.
    func reset() {
        guard !self.closed else { return }
        self.closed = true
        self.toServer.timer?.cancel()
        self.toClient.timer?.cancel()
        for channel in [self.client, self.server].compactMap({ $0 }) {
            if let options = channel as? any SocketOptionProvider, channel.localAddress?.protocol != .unix {
                options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        }
        self.proxy.forget(self)
    }

    /// One side closed: so does the other, once what it sent has been passed on (unless held).
    func sideClosed() {
        guard !self.closed else { return }
        self.closed = true
        self.toServer.timer?.cancel()
        self.toClient.timer?.cancel()
        self.client.close(promise: nil)
        self.server?.close(promise: nil)
        self.proxy.forget(self)
    }
}

/// Hands one side's bytes to its link.
final class ProxySide: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let link: ProxyLink
    let fromClient: Bool

    init(link: ProxyLink, fromClient: Bool) {
        self.link = link
        self.fromClient = fromClient
    }

    func channelActive(context: ChannelHandlerContext) {
        if self.fromClient { self.link.proxy.register(self.link) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.link.received(Self.unwrapInboundIn(data), fromClient: self.fromClient)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.link.sideClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.link.sideClosed()
    }
}

/// A small seeded generator: the garbage is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
