import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A listening socket whose connections are served by an `RPCHandlerTable`.
public final class RPCServer: Sendable {
    /// Decides whether an accepted connection may be served, before any of its bytes are read.
    /// A failed future closes the connection.
    public typealias Admission = @Sendable (any Channel) -> EventLoopFuture<Void>

    /// The listening channel; closing it stops accepting.
    public let channel: any Channel
    /// The connections it accepted that are still open, for a graceful shutdown: quiesced, each
    /// answers the requests it has in flight, refuses new ones (retryable) and closes.
    public let connections: OpenConnections

    private init(channel: any Channel, connections: OpenConnections) {
        self.channel = channel
        self.connections = connections
    }

    /// Binds `address` (TCP or Unix domain socket) and starts serving: over TLS when `tls` is
    /// given, and only to connections that pass `authentication` when it is.
    public static func bind(
        to address: SocketAddress,
        table: RPCHandlerTable,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        tls: NIOSSLContext? = nil,
        authentication: RPCServerAuthentication? = nil,
        admission: Admission? = nil
    ) async throws -> RPCServer {
        let connectionIDs = ConnectionIDs()
        let connections = OpenConnections()
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                connections.track(channel)
                let admitted = admission?(channel) ?? channel.eventLoop.makeSucceededVoidFuture()
                return admitted.flatMapThrowing {
                    let info = RPCConnectionInfo(
                        id: connectionIDs.next(), remoteAddress: channel.remoteAddress, secureTransport: tls != nil
                    )
                    let operations = channel.pipeline.syncOperations
                    if let tls {
                        try operations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try operations.addRPCFraming(maxFrameLength: configuration.maxFrameLength)
                    let makeDispatcher = { (info: RPCConnectionInfo) in
                        RPCServerHandler(table: table, configuration: configuration, connection: info, logger: logger)
                    }
                    if let authentication {
                        try operations.addHandler(
                            RPCAuthenticationHandler(
                                authentication: authentication, connection: info, usesTLS: tls != nil,
                                mapError: table.mapError, logger: logger, makeDispatcher: makeDispatcher
                            ))
                    } else {
                        try operations.addHandler(makeDispatcher(info))
                    }
                }
            }
        if address.protocol != .unix {
            bootstrap = bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        let channel = try await bootstrap.bind(to: address).get()
        return RPCServer(channel: channel, connections: connections)
    }

    /// The bound address, with the real port when bound to port 0.
    public var localAddress: SocketAddress? { self.channel.localAddress }

    /// Stops accepting; connections already open are closed by their peers or the event loop.
    public func close() async {
        try? await self.channel.close()
    }
}

private final class ConnectionIDs: Sendable {
    private let counter = Atomic<UInt64>(0)

    func next() -> UInt64 {
        self.counter.wrappingAdd(1, ordering: .relaxed).newValue
    }
}
