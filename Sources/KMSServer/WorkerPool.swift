import KMSDomain
import KMSRPC
import Logging
import NIOCore

/// kmsd's connections to kms-cryptod. A restarted worker is reconnected to on next use, so
/// kmsd never needs restarting with it.
public final class WorkerPool: Sendable {
    private let pool: RPCConnectionPool
    private let socketPath: String
    private let expectedUID: UInt32
    private let logger: Logger

    /// Every connection is checked, before anything is sent on it, to have a peer running as
    /// `expectedUID` (SO_PEERCRED; by default kmsd's own uid, which is also the only uid
    /// kms-cryptod serves): whoever binds the socket path while kms-cryptod is down would
    /// otherwise be sent access key proofs to accept and plaintexts to keep.
    public init(
        socketPath: String, connections: Int, configuration: RPCConfiguration = .init(),
        expectedUID: UInt32 = RPCPeerCredentials.ownUID, logger: Logger
    ) throws {
        self.socketPath = socketPath
        self.expectedUID = expectedUID
        self.pool = RPCConnectionPool(
            address: try SocketAddress(unixDomainSocketPath: socketPath), connections: connections, configuration: configuration,
            peerCheck: RPCPeerCredentials.requireUID(expectedUID)
        )
        self.logger = logger
    }

    /// Calls the worker. A request whose connection dropped before the answer is sent once
    /// more on a fresh connection: worker operations have no side effects, so that is safe.
    public func call<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request) async throws(KMSError) -> Response {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let connection = try await self.pool.connection()
                let started = ContinuousClock.now
                let response = try await connection.call(method, request)
                ServiceMetrics.shared.workerCall(method.name, duration: ContinuousClock.now - started)
                return response
            } catch let error as RPCError where error.code == RPCError.connectionClosedCode && attempt < 2 {
                continue
            } catch let error as RPCError where error.code == RPCError.peerRefusedCode {
                self.logger.critical("refused to talk to the process serving the worker socket: it is not kms-cryptod's user", metadata: [
                    "socket": "\(self.socketPath)", "expected_uid": "\(self.expectedUID)", "reason": "\(error.message)",
                ])
                throw KMSError(.dependencyTimeout, "the crypto worker is unavailable; retry later", retryable: true)
            } catch let error as RPCError {
                throw Self.map(error)
            } catch {
                self.logger.warning("kms-cryptod is unreachable", metadata: ["socket": "\(self.socketPath)", "error": .untrusted("\(error)")])
                throw KMSError(.dependencyTimeout, "the crypto worker is unavailable; retry later", retryable: true)
            }
        }
    }

    /// The worker answers with AWS codes; link failures become retryable dependency errors.
    static func map(_ error: RPCError) -> KMSError {
        if error.code != RPCError.connectionClosedCode, error.code != RPCError.timeoutCode,
           let code = KMSError.Code(rawValue: error.code) {
            return KMSError(code, error.message, retryable: error.retryable)
        }
        return KMSError(.dependencyTimeout, "the crypto worker did not answer; retry later", retryable: true)
    }

    public func close() async {
        await self.pool.close()
    }
}
