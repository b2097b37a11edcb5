import KMSDomain
import KMSRPC
import KMSWorkerProto
import Logging
import NIOCore

/// kmsd's connections to kms-cryptod. A restarted worker is reconnected to on next use, so
/// kmsd never needs restarting with it.
///
/// Every call ends within its timeout, and every failure of the worker or of the link to it
/// (no answer, a closed connection, an answer that is not a valid response) reaches the caller
/// as a retryable DependencyTimeoutException: the request was fine, the dependency was not.
/// Only the AWS errors kms-cryptod answers with (InvalidCiphertextException, ...) pass through.
public final class WorkerPool: Sendable {
    /// How long a call waits for kms-cryptod by default: below clients' own timeouts (10 s in
    /// KMSClient and the AWS SDKs' defaults are longer), so that a stalled worker is answered
    /// as DependencyTimeoutException rather than left to each client's timeout.
    public static let defaultTimeout: Duration = .seconds(5)
    /// Slow calls (key pair generation, RSA above all, which may queue behind other generations
    /// on kms-cryptod's bounded pool) get this many times the timeout.
    static let slowFactor = 6

    private let pool: RPCConnectionPool
    private let socketPath: String
    private let expectedUID: UInt32
    private let timeout: TimeAmount
    private let logger: Logger
    private let metrics: ServiceMetrics
    /// kms-cryptod unreachable, or served by another user: one log line per incident, not per call.
    private let unreachable = IncidentLog()
    private let impostor = IncidentLog()

    /// Every connection is checked, before anything is sent on it, to have a peer running as
    /// `expectedUID` (SO_PEERCRED; by default kmsd's own uid, which is also the only uid
    /// kms-cryptod serves): whoever binds the socket path while kms-cryptod is down would
    /// otherwise be sent access key proofs to accept and plaintexts to keep.
    public init(
        socketPath: String, connections: Int, configuration: RPCConfiguration = .init(),
        timeout: Duration = WorkerPool.defaultTimeout,
        expectedUID: UInt32 = RPCPeerCredentials.ownUID, logger: Logger, metrics: ServiceMetrics = ServiceMetrics()
    ) throws {
        self.metrics = metrics
        self.socketPath = socketPath
        self.expectedUID = expectedUID
        self.timeout = max(.nanoseconds(1), TimeAmount(timeout))
        self.pool = RPCConnectionPool(
            address: try SocketAddress(unixDomainSocketPath: socketPath), connections: connections,
            configuration: configuration,
            peerCheck: RPCPeerCredentials.requireUID(expectedUID)
        )
        self.logger = logger
    }

    /// Calls the worker. A request whose connection dropped, or was answered with garbage,
    /// before the answer is sent once more on a fresh connection: worker operations have no
    /// side effects, so that is safe. One that got no answer in time is not: the worker is
    /// busy or stalled, and a second wait would double the caller's.
    public func call<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request)
        async throws(KMSError) -> Response
    {
        var timeout = Self.isSlow(method.name, request) ? self.timeout * Self.slowFactor : self.timeout
        // No longer than the request has left (an earlier wait may have used most of it).
        if let deadline = RequestDeadline.current {
            timeout = min(timeout, max(.nanoseconds(1), TimeAmount(deadline - ContinuousClock.now)))
        }
        var attempt = 0
        while true {
            attempt += 1
            do {
                let connection = try await self.pool.connection()
                let started = ContinuousClock.now
                let response = try await connection.call(method, request, timeout: timeout)
                self.metrics.workerCall(method.name, duration: ContinuousClock.now - started)
                self.recovered()
                return response
            } catch let error as RPCError
                where Self.isLinkFailure(error) && error.code != RPCError.timeoutCode && attempt < 2
            {
                continue
            } catch let error as RPCError where error.code == RPCError.peerRefusedCode {
                self.impostor.failed { unlogged in
                    self.logger.critical(
                        "refused to talk to the process serving the worker socket: it is not kms-cryptod's user",
                        metadata: [
                            "socket": "\(self.socketPath)", "expected_uid": "\(self.expectedUID)",
                            "reason": "\(error.message)", "refusals_not_logged": "\(unlogged)",
                        ])
                }
                throw KMSError(.dependencyTimeout, "the crypto worker is unavailable; retry later", retryable: true)
            } catch let error as RPCError {
                if Self.isGarbage(error) {
                    self.logger.warning(
                        "kms-cryptod answered something that is not a valid response",
                        metadata: [
                            "socket": "\(self.socketPath)", "method": "\(method.name)", "error": .untrusted("\(error)"),
                        ])
                }
                throw Self.map(error)
            } catch is CancellationError {
                // The caller gave up (a deadline of its own, such as the audit checkpoint's):
                // nothing is wrong with the worker for that.
                throw KMSError(.dependencyTimeout, "the crypto worker call was cancelled", retryable: true)
            } catch {
                self.unreachable.failed { unlogged in
                    self.logger.warning(
                        "kms-cryptod is unreachable",
                        metadata: [
                            "socket": "\(self.socketPath)", "error": .untrusted("\(error)"),
                            "failures_not_logged": "\(unlogged)",
                        ])
                }
                throw KMSError(.dependencyTimeout, "the crypto worker is unavailable; retry later", retryable: true)
            }
        }
    }

    /// A call was answered: an incident of failures that was open is logged as over.
    private func recovered() {
        self.unreachable.succeeded { lasted, unlogged in
            self.logger.notice(
                "kms-cryptod is reachable again",
                metadata: [
                    "socket": "\(self.socketPath)", "unreachable_for": "\(lasted)",
                    "failures_not_logged": "\(unlogged)",
                ])
        }
        self.impostor.succeeded { _, _ in }
    }

    /// Failures of the link rather than answers of the worker: no answer in time, a closed
    /// connection, or bytes that are not a valid frame, envelope or response (a worker out of
    /// step, or not kms-cryptod at all). The request itself was never judged.
    static func isLinkFailure(_ error: RPCError) -> Bool {
        error.code == RPCError.connectionClosedCode || error.code == RPCError.timeoutCode || Self.isGarbage(error)
    }

    static func isGarbage(_ error: RPCError) -> Bool {
        error.code == RPCError.serializationCode || error.code == RPCError.frameTooLargeCode
            || error.code == RPCError.unknownOperationCode
    }

    /// The worker answers with AWS codes; link failures become retryable dependency errors.
    /// Public so that an in-process `CryptoBackend` (tests) answers exactly as this pool does.
    public static func map(_ error: RPCError) -> KMSError {
        if !Self.isLinkFailure(error), let answered = KMSError(answered: error) {
            return answered
        }
        if error.code == RPCError.timeoutCode {
            return KMSError(
                .dependencyTimeout, "the crypto worker did not answer in time; retry later", retryable: true)
        }
        if Self.isGarbage(error) {
            return KMSError(
                .dependencyTimeout, "the crypto worker's answer was not valid; retry later", retryable: true)
        }
        return KMSError(.dependencyTimeout, "the crypto worker did not answer; retry later", retryable: true)
    }

    /// Calls that may take long: generating a key pair (RSA takes up to a few hundred
    /// milliseconds each and queues on kms-cryptod's generation pool), and verifying a chain's
    /// checkpoints (as many MACs as the chain has checkpoints).
    static func isSlow<Request>(_ method: String, _ request: Request) -> Bool {
        switch method {
        case WorkerMethod.generateDataKeyPair.name, WorkerMethod.getParametersForImport.name,
            WorkerMethod.verifyAuditCheckpoints.name:
            return true
        case WorkerMethod.generateKeyMaterial.name:
            return (request as? WorkerGenerateKeyMaterialRequest)?.kind != .symmetric256
        default:
            return false
        }
    }

    /// Closes the connections to kms-cryptod; a later call connects anew.
    public func close() async {
        await self.pool.close()
    }
}
