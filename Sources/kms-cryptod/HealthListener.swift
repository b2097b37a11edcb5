import KMSCryptoWorker
import KMSRPC
import Logging
import NIOCore

/// kms-cryptod's optional health listener (`--health-listen`): GET /healthz and GET /readyz
/// only, never anything about keys. Ready means the keyring is loaded and the socket accepts a
/// connection.
enum HealthListener {
    static func readiness(worker: CryptoWorker, socketPath: String) -> Readiness {
        Readiness(checks: [
            { worker.rootKeyCount > 0 ? [] : [Readiness.Failure("keyring", "no root key is loaded")] },
            {
                // A real connection, as kmsd makes them: the socket file is there and accepts.
                guard let connection = try? await RPCClientConnection.connect(unixDomainSocketPath: socketPath) else {
                    return [Readiness.Failure("socket", "the worker socket does not accept connections")]
                }
                await connection.close()
                return []
            },
        ])
    }

    static func bind(_ text: String, readiness: Readiness, logger: Logger) async throws -> any Channel {
        guard let (host, port) = ListenAddress.split(text) else { throw HealthListenError(text: text) }
        let channel = try await ProbeEndpoint.bind(
            to: try SocketAddress.makeAddressResolvingHost(host, port: port),
            routes: ["/healthz": { .alive }, "/readyz": { await readiness.report().answer }])
        logger.info("serving health probes", metadata: ["listen": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        return channel
    }
}

struct HealthListenError: Error, CustomStringConvertible {
    let text: String
    var description: String { "--health-listen must be host:port, not '\(self.text)'" }
}
