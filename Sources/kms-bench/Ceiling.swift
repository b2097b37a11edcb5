import ArgumentParser
import Crypto
import Foundation
import KMSRPC
import Logging
import NIOCore

/// The bare two-hop ceiling of DESIGN.md, built from the same RPC layer as kmsd: a front that
/// forwards each Echo to a worker process over a Unix socket, where it is sealed with AES-GCM.
/// Whatever kmsd adds on top of this pair is the cost of KMS semantics.
struct CeilingWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceiling-worker", abstract: "The ceiling pair's second hop: seals each payload with AES-GCM.", shouldDisplay: false
    )

    @Option(help: "Unix socket to listen on.") var socket: String

    func run() async throws {
        let key = SymmetricKey(size: .bits256)
        var table = RPCHandlerTable()
        table.registerRaw("Seal") { payload, _ in
            let sealed = try AES.GCM.seal(payload, using: key)
            return Array(sealed.combined ?? Data())
        }
        unlink(self.socket)
        let server = try await RPCServer.bind(to: try SocketAddress(unixDomainSocketPath: self.socket), table: table, logger: Logger(label: "ceiling-worker"))
        // Runs until killed: the pair holds nothing worth a graceful shutdown.
        try await server.channel.closeFuture.get()
    }
}

struct CeilingFront: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceiling-front", abstract: "The ceiling pair's first hop: forwards each Echo to ceiling-worker.", shouldDisplay: false
    )

    @Option(help: "host:port to listen on.") var listen: String
    @Option(help: "ceiling-worker's socket.") var workerSocket: String
    @Option(help: "Connections to the worker.") var workerConnections = 4

    func run() async throws {
        let pool = RPCConnectionPool(address: try SocketAddress(unixDomainSocketPath: self.workerSocket), connections: self.workerConnections)
        var table = RPCHandlerTable()
        table.registerRaw("Echo") { payload, _ in
            try await pool.connection().call(method: "Seal", payload: payload)
        }
        let server = try await RPCServer.bind(to: try Run.address(self.listen), table: table, logger: Logger(label: "ceiling-front"))
        // Runs until killed: the pair holds nothing worth a graceful shutdown.
        try await server.channel.closeFuture.get()
    }
}
