import ArgumentParser
import Crypto
import Foundation
import KMSDomain
import KMSRPC
import Logging
import NIOCore

/// The bare two-hop ceiling of DESIGN.md, built from the same RPC layer as kmsd: a front that
/// forwards each Echo to a worker process over a Unix socket, where it is sealed with AES-GCM.
/// Whatever kmsd adds on top of this pair is the cost of KMS semantics.
struct CeilingWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceiling-worker", abstract: "The ceiling pair's second hop: seals each payload with AES-GCM.",
        shouldDisplay: false
    )

    @Option(help: "Unix socket to listen on.") var socket: String
    @Option(help: "Once listening, write the socket's path to this file.") var readyFile: String?

    func run() async throws {
        let key = SymmetricKey(size: .bits256)
        var table = RPCHandlerTable()
        // Inline, as kms-cryptod's synchronous handlers are: the ceiling is what the layer can do.
        table.registerRawInline("Seal") { payload, _ in
            // The nonce in one system call, as kms-cryptod draws its random bytes (SystemRandom):
            // swift-crypto's own nonce would be two, a cost the service does not pay.
            try AES.GCM.seal(payload, using: key, nonce: AES.GCM.Nonce(data: SystemRandom.bytes(12))).combined ?? Data()
        }
        unlink(self.socket)
        let server = try await RPCServer.bind(
            to: try SocketAddress(unixDomainSocketPath: self.socket), table: table,
            logger: Logger(label: "ceiling-worker"))
        try writeReadyFile(self.readyFile, self.socket)
        // Runs until killed: the pair holds nothing worth a graceful shutdown.
        try await server.channel.closeFuture.get()
    }
}

struct CeilingFront: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceiling-front", abstract: "The ceiling pair's first hop: forwards each Echo to ceiling-worker.",
        shouldDisplay: false
    )

    @Option(help: "host:port to listen on.") var listen: String
    @Option(help: "ceiling-worker's socket.") var workerSocket: String
    @Option(help: "Connections to the worker.") var workerConnections = 4
    @Option(help: "Once listening, write the bound host:port to this file (for --listen with port 0).") var readyFile:
        String?

    func run() async throws {
        let pool = RPCConnectionPool(
            address: try SocketAddress(unixDomainSocketPath: self.workerSocket), connections: self.workerConnections)
        var table = RPCHandlerTable()
        table.registerRaw("Echo") { payload, _ in
            try await pool.connection().call(method: "Seal", data: payload)
        }
        let server = try await RPCServer.bind(
            to: try Run.address(self.listen), table: table, logger: Logger(label: "ceiling-front"))
        if let address = server.localAddress, let port = address.port {
            try writeReadyFile(self.readyFile, "\(address.ipAddress ?? "127.0.0.1"):\(port)")
        }
        // Runs until killed: the pair holds nothing worth a graceful shutdown.
        try await server.channel.closeFuture.get()
    }
}

/// Written whole under a temporary name, then renamed: a reader never sees half of it.
func writeReadyFile(_ path: String?, _ line: String) throws {
    guard let path else { return }
    try (line + "\n").write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
    guard rename(path + ".tmp", path) == 0 else { throw ValidationErrorText("cannot write \(path)") }
}
