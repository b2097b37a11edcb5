import Foundation
import KMSProto
import KMSRPC
import NIOCore
import NIOPosix

/// The Swift client for kmsd's binary protocol: requests from any number of tasks are pipelined
/// over a few connections; retryable failures are retried with jittered exponential backoff.
///
///     let kms = try KMSClient(endpoint: "127.0.0.1:7400")
///     let blob = try await kms.call(KMSMethod.encrypt, .with { $0.keyID = "alias/app"; $0.plaintext = data })
public final class KMSClient: Sendable {
    public struct Configuration: Sendable {
        /// Connections to open (lazily); each carries many requests at once.
        public var connections = 2
        /// How long one attempt waits for its answer.
        public var timeout: TimeAmount = .seconds(10)
        /// Attempts per call, the first included.
        public var maxAttempts = 3
        /// Backoff before retry n: a random delay up to min(maxBackoff, baseBackoff * 2^(n-1)).
        public var baseBackoff: Duration = .milliseconds(50)
        public var maxBackoff: Duration = .seconds(2)
        public var maxFrameLength = 64 * 1024

        public init() {}
    }

    /// Operations that must not be repeated when a connection drops with the request in flight,
    /// because the first attempt may have taken effect (a second key would be created).
    static let notIdempotent: Set<String> = ["CreateKey", "CreateGrant", "RotateKeyOnDemand", "ImportKeyMaterial"]

    public let endpoint: String
    private let configuration: Configuration
    private let pool: RPCConnectionPool

    /// `endpoint` is "host:port".
    public init(endpoint: String, configuration: Configuration = .init()) throws {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]) else {
            throw KMSClientError(code: "ValidationException", message: "the endpoint must be host:port, not '\(endpoint)'", retryable: false)
        }
        var host = String(endpoint[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw KMSClientError(code: "ValidationException", message: "cannot resolve \(host): \(error)", retryable: false)
        }
        var rpc = RPCConfiguration(maxFrameLength: configuration.maxFrameLength)
        rpc.defaultTimeout = configuration.timeout
        self.endpoint = endpoint
        self.configuration = configuration
        self.pool = RPCConnectionPool(address: address, connections: configuration.connections, configuration: rpc)
    }

    /// Calls one operation, retrying what may be retried.
    public func call<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request) async throws(KMSClientError) -> Response {
        var attempt = 0
        while true {
            attempt += 1
            let failure: KMSClientError
            do {
                let connection = try await self.pool.connection()
                return try await connection.call(method, request)
            } catch let error as RPCError {
                failure = KMSClientError(code: error.code, message: error.message, retryable: error.retryable)
                let inFlightLoss = error.code == RPCError.connectionClosedCode || error.code == RPCError.timeoutCode
                guard error.retryable, !(inFlightLoss && Self.notIdempotent.contains(method.name)) else { throw failure }
            } catch is CancellationError {
                throw KMSClientError(code: "CancellationError", message: "the call was cancelled", retryable: false)
            } catch {
                // Could not connect: nothing was sent, so any operation may be tried again.
                failure = KMSClientError(code: "ConnectionFailedException", message: "cannot connect to \(self.endpoint): \(error)", retryable: true)
            }
            guard attempt < self.configuration.maxAttempts else { throw failure }
            let ceiling = min(self.configuration.maxBackoff, self.configuration.baseBackoff * (1 << min(attempt - 1, 20)))
            let delay = Duration.nanoseconds(Int64.random(in: 0...max(1, ceiling.nanoseconds)))
            do {
                try await Task.sleep(for: delay)
            } catch {
                throw failure
            }
        }
    }

    public func close() async {
        await self.pool.close()
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
