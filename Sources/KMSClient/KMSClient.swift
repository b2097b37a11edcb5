import Foundation
import KMSProto
import KMSRPC
import NIOCore
import NIOPosix
import NIOSSL

/// The Swift client for kmsd's binary protocol: requests from any number of tasks are pipelined
/// over a few connections; retryable failures are retried with jittered exponential backoff.
///
///     let kms = try KMSClient(endpoint: "127.0.0.1:7400")
///     let blob = try await kms.call(KMSMethod.encrypt, .with { $0.keyID = "alias/app"; $0.plaintext = data })
public final class KMSClient: Sendable {
    /// How many connections, how long to wait and how to retry; the defaults suit a local kmsd.
    public struct Configuration: Sendable {
        /// Connections to open (lazily); each carries many requests at once.
        public var connections = 2
        /// How long one attempt waits for its answer.
        public var timeout: TimeAmount = .seconds(10)
        /// Attempts per call, the first included.
        public var maxAttempts = 3
        /// Backoff before retry n, and before reconnecting after n failed connects in a row
        /// (whichever calls are waiting): a random delay between half and all of
        /// min(maxBackoff, baseBackoff * 2^(n-1)) (`RPCBackoff`). Reconnects back off even with
        /// `maxAttempts` 1, so callers looping over a down kmsd do not hammer it.
        public var baseBackoff: Duration = .milliseconds(50)
        /// The ceiling on any one backoff delay, before jitter.
        public var maxBackoff: Duration = .seconds(2)
        /// The largest frame sent or accepted, in bytes; must not be below what kmsd answers with.
        public var maxFrameLength = 64 * 1024
        /// The access key each connection authenticates with. Nil: a client certificate
        /// (mutual TLS), or a server in insecure development mode.
        public var credentials: KMSCredentials?
        /// TLS to kmsd; nil for plain TCP.
        public var tls: TLS?
        /// The event loops the connections run on. One `EventLoop` keeps all of this client's
        /// I/O on one thread, so a caller whose task runs on that loop (a task executor of it)
        /// sends and hears its answers without a thread switch.
        public var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

        /// The defaults: 2 connections, 10 s per attempt, 3 attempts, no credentials, plain TCP.
        public init() {}
    }

    /// TLS to kmsd: the CAs to trust and, for mutual TLS, a client certificate and its key (both or neither).
    public struct TLS: Sendable {
        /// PEM bundle of the CAs to trust (AWS_CA_BUNDLE); nil: the system's.
        public var caBundlePath: String?
        /// Client certificate and key (PEM) for mutual TLS.
        public var certificatePath: String?
        /// The client certificate's private key (PEM); used only with `certificatePath`.
        public var privateKeyPath: String?

        /// TLS settings from PEM file paths; the files are read when the client is made.
        public init(caBundlePath: String? = nil, certificatePath: String? = nil, privateKeyPath: String? = nil) {
            self.caBundlePath = caBundlePath
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
        }

        func makeContext() throws -> NIOSSLContext {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let caBundlePath { configuration.trustRoots = .file(caBundlePath) }
            if let certificatePath, let privateKeyPath {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map {
                    .certificate($0)
                }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKeyPath, format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        }
    }

    /// Operations that must not be repeated when a connection drops with the request in flight,
    /// because the first attempt may have taken effect (a second key would be created).
    static let notIdempotent: Set<String> = ["CreateKey", "CreateGrant", "RotateKeyOnDemand", "ImportKeyMaterial"]

    /// "host:port" as given to `init`; error messages name it.
    public let endpoint: String
    private let configuration: Configuration
    private let pool: RPCConnectionPool

    /// `endpoint` is "host:port".
    public init(endpoint: String, configuration: Configuration = .init()) throws {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]) else {
            throw KMSClientError(
                code: "ValidationException", message: "the endpoint must be host:port, not '\(endpoint)'",
                retryable: false)
        }
        var host = String(endpoint[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw KMSClientError(
                code: "ValidationException", message: "cannot resolve \(host): \(error)", retryable: false)
        }
        var rpc = RPCConfiguration(maxFrameLength: configuration.maxFrameLength)
        rpc.defaultTimeout = configuration.timeout
        self.endpoint = endpoint
        self.configuration = configuration
        let tls: NIOSSLContext?
        do {
            tls = try configuration.tls?.makeContext()
        } catch {
            throw KMSClientError(code: "ValidationException", message: "cannot set up TLS: \(error)", retryable: false)
        }
        let credentials = configuration.credentials
        // Every connection answers kmsd's challenge before its first request.
        let handshake: RPCClientHandshake = { challenge in
            if let credentials { return credentials.answer(challenge) }
            guard !challenge.certificatePrincipal.isEmpty || challenge.anonymousAllowed else {
                throw RPCError(
                    code: RPCError.missingAuthenticationTokenCode,
                    message:
                        "Unable to locate credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile "
                        + "in ~/.aws/credentials"
                )
            }
            return RPCAuthenticate()
        }
        // SNI and certificate checks need a name; an IP address is checked against the IP SANs.
        let isIP = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        self.pool = RPCConnectionPool(
            address: address, connections: configuration.connections, configuration: rpc,
            group: configuration.eventLoopGroup, tls: tls, serverHostname: isIP ? nil : host, handshake: handshake,
            reconnectBackoff: configuration.backoff
        )
    }

    /// Who kmsd says this client is (GetCallerIdentity).
    public func callerIdentity() async throws(KMSClientError) -> AdminGetCallerIdentityResponse {
        try await self.call(AdminMethod.getCallerIdentity, AdminGetCallerIdentityRequest())
    }

    /// Calls one operation, retrying what may be retried.
    public func call<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request)
        async throws(KMSClientError) -> Response
    {
        try await self.withRetries(method.name) { connection in try await connection.call(method, request) }
    }

    /// Calls one operation by name with its serialized request, retrying as `call` does: for a
    /// proxy that forwards what it was given (kms-agent's AWS JSON endpoint).
    public func call(method: String, payload: [UInt8]) async throws(KMSClientError) -> [UInt8] {
        try await self.withRetries(method) { connection in
            try await connection.call(method: method, payload: payload)
        }
    }

    private func withRetries<T: Sendable>(
        _ name: String, _ send: @Sendable (RPCClientConnection) async throws -> T
    ) async throws(KMSClientError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            let failure: KMSClientError
            let connection: RPCClientConnection
            do {
                connection = try await self.pool.connection()
            } catch let error as RPCError where !error.retryable {
                // The server refused the credentials: trying again cannot help.
                throw KMSClientError(error)
            } catch {
                // Could not connect (or authenticate in time): nothing was sent, so any
                // operation may be tried again.
                failure = KMSClientError(
                    code: "ConnectionFailedException", message: "cannot connect to \(self.endpoint): \(error)",
                    retryable: true)
                try await self.pause(after: attempt, failure)
                continue
            }
            do {
                return try await send(connection)
            } catch let error as RPCError {
                failure = KMSClientError(error)
                let inFlightLoss = error.code == RPCError.connectionClosedCode || error.code == RPCError.timeoutCode
                guard error.retryable, !(inFlightLoss && Self.notIdempotent.contains(name)) else {
                    throw failure
                }
            } catch is CancellationError {
                throw KMSClientError(code: "CancellationError", message: "the call was cancelled", retryable: false)
            } catch {
                failure = KMSClientError(
                    code: "ConnectionFailedException", message: "the connection to \(self.endpoint) failed: \(error)",
                    retryable: true)
            }
            try await self.pause(after: attempt, failure)
        }
    }

    /// Throws `failure` when no attempt is left, else sleeps the jittered backoff.
    private func pause(after attempt: Int, _ failure: KMSClientError) async throws(KMSClientError) {
        guard attempt < self.configuration.maxAttempts else { throw failure }
        let delay = self.configuration.backoff.delay(afterFailures: attempt)
        do {
            try await Task.sleep(for: delay)
        } catch {
            throw failure
        }
    }

    /// Closes every connection and cancels those being opened; calls still waiting fail.
    public func close() async {
        await self.pool.close()
    }
}

extension KMSClient.Configuration {
    var backoff: RPCBackoff { RPCBackoff(base: self.baseBackoff, cap: self.maxBackoff) }
}
