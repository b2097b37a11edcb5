import KMSDomain
import KMSRPC
import KMSStore
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle

/// kmsd as one service: applies migrations, then serves the binary protocol with the change
/// listener and the deletion reaper beside it, until a graceful shutdown closes the listener
/// first (no new connections) and then everything else.
public struct KMSDaemon: Service {
    public struct Settings: Sendable {
        public var listenHost = "127.0.0.1"
        public var listenPort = 7400
        public var workerSocket = "cryptod.sock"
        public var workerConnections = 4
        public var rpc = RPCConfiguration()
        public var cacheLifetime: Duration = .seconds(30)
        public var reaperInterval: Duration = .seconds(60)

        public init() {}
    }

    let settings: Settings
    let scope: ServiceScope
    let client: PostgresClient
    let logger: Logger
    let onListening: @Sendable (SocketAddress) -> Void

    public init(settings: Settings, scope: ServiceScope, client: PostgresClient, logger: Logger, onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.settings = settings
        self.scope = scope
        self.client = client
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        try await Migrations.apply(on: self.client, logger: self.logger)
        let cache = KeyCache(lifetime: self.settings.cacheLifetime)
        let worker = try WorkerPool(
            socketPath: self.settings.workerSocket, connections: self.settings.workerConnections,
            configuration: self.settings.rpc, logger: self.logger
        )
        let service = KMSService(
            scope: self.scope, client: self.client, cache: cache, worker: worker,
            gate: AccountRootGate(scope: self.scope), logger: self.logger
        )
        let server = try await RPCServer.bind(
            to: try SocketAddress.makeAddressResolvingHost(self.settings.listenHost, port: self.settings.listenPort),
            table: service.handlerTable(), configuration: self.settings.rpc, logger: self.logger
        )
        if let address = server.localAddress { self.onListening(address) }
        self.logger.notice("serving", metadata: [
            "listen": "\(server.localAddress.map { "\($0)" } ?? "?")",
            "region": "\(self.scope.defaultRegion)", "account": "\(self.scope.defaultAccount)",
        ])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await ChangeListener(client: self.client, cache: cache, logger: self.logger).run() }
            group.addTask { try? await DeletionReaper(client: self.client, interval: self.settings.reaperInterval, logger: self.logger).run() }
            group.addTask {
                try? await gracefulShutdown()
                await server.close()
            }
            group.addTask { try? await server.channel.closeFuture.get() }
            await group.next()
            group.cancelAll()
        }
        await server.close()
        await worker.close()
        self.logger.notice("stopped")
    }
}
