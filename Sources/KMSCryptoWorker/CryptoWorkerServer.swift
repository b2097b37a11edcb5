import KMSRPC
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// kms-cryptod's listener: a Unix socket of mode 0600 that serves only peers of this process's
/// own uid (checked with SO_PEERCRED on every connection, since a socket file's mode alone can
/// be loosened by anyone who owns the directory).
public final class CryptoWorkerServer: Sendable {
    /// The socket file; removed on shutdown.
    public let socketPath: String
    private let server: RPCServer

    private init(socketPath: String, server: RPCServer) {
        self.socketPath = socketPath
        self.server = server
    }

    /// Serves `worker` on a new socket at `socketPath` (mode 0600, own uid only). A stale socket left by
    /// a dead worker is replaced; a live worker there, or a file that is not a socket, is an error.
    public static func start(
        worker: CryptoWorker,
        socketPath: String,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> CryptoWorkerServer {
        try await removeStaleSocket(at: socketPath, group: group)
        let uid = RPCPeerCredentials.ownUID
        // The socket file is created by bind(); a restrictive umask means it never exists with
        // looser permissions, even for an instant.
        let previousMask = umask(0o077)
        defer { umask(previousMask) }
        let server = try await RPCServer.bind(
            to: SocketAddress(unixDomainSocketPath: socketPath),
            table: worker.handlerTable(),
            configuration: configuration,
            group: group,
            logger: logger,
            admission: { channel in
                RPCPeerCredentials.uid(of: channel).flatMapThrowing { peer in
                    do {
                        try RPCPeerCredentials.check(peerUID: peer, expected: uid)
                    } catch {
                        logger.warning("refused a connection from another uid", metadata: ["peer_uid": "\(peer)"])
                        throw error
                    }
                }
            }
        )
        guard chmod(socketPath, 0o600) == 0 else {
            await server.close()
            throw WorkerSetupError(description: "cannot set the mode of \(socketPath): \(errnoText())")
        }
        return CryptoWorkerServer(socketPath: socketPath, server: server)
    }

    /// kmsd's open connections: after the listener closed they are served until kmsd closes
    /// them (it needs the worker for its in-flight requests and its last audit checkpoint).
    public var connections: OpenConnections { self.server.connections }

    /// Resolves when the listener closes.
    public var closeFuture: EventLoopFuture<Void> { self.server.channel.closeFuture }

    /// Stops accepting, removes the socket file and waits until the listener has closed.
    public func close() async {
        self.beginShutdown()
        try? await self.closeFuture.get()
    }

    /// Stops accepting and removes the socket file; does not wait.
    public func beginShutdown() {
        unlink(self.socketPath)
        self.server.channel.close(promise: nil)
    }

    /// A socket file left by a worker that died is removed; a live worker on the same path, or a
    /// path that is not a socket, is an error (never delete what might be someone else's).
    static func removeStaleSocket(at path: String, group: any EventLoopGroup) async throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw WorkerSetupError(description: "\(path) exists and is not a socket")
        }
        if let connection = try? await RPCClientConnection.connect(unixDomainSocketPath: path, group: group) {
            await connection.close()
            throw WorkerSetupError(description: "another process is already serving on \(path)")
        }
        unlink(path)
    }
}
