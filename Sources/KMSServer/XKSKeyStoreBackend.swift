import Foundation
import KMSDomain
import KMSWorkerProto
import KMSXKS
import NIOSSL

/// EXTERNAL_KEY_STORE stores: connecting one is a GetHealthStatus to its proxy, signed with the
/// store's credential (unwrapped by kms-cryptod for this request only), whose failure is
/// AWS's ConnectionErrorCode for it.
public struct XKSKeyStoreBackend: CustomKeyStoreBackend {
    /// The CAs a proxy's certificate must chain to; nil for the system's.
    let trustRoots: NIOSSLTrustRoots?
    /// How long a connect and an answer may take.
    let timeout: Duration

    /// A backend trusting `trustRoots` (nil: the system's CAs).
    public init(trustRoots: NIOSSLTrustRoots? = nil, timeout: Duration = .seconds(2)) {
        self.trustRoots = trustRoots
        self.timeout = timeout
    }

    public func connect(_ store: CustomKeyStoreRecord, storeARN: String, worker: any CryptoBackend) async
        -> CustomKeyStoreConnectionError?
    {
        guard let xks = store.xks else { return .xksProxyInvalidConfiguration }
        var unwrap = WorkerUnwrapXksProxySecretRequest()
        unwrap.accessKeyID = xks.accessKeyID
        unwrap.storeArn = storeARN
        unwrap.wrappedSecret = Data(xks.wrappedSecret)
        guard let secret = try? await worker.call(WorkerMethod.unwrapXksProxySecret, unwrap) else {
            return .internalError
        }
        let milliseconds = Int64(self.timeout.components.seconds * 1000)
        let configuration = XKSClientConfiguration(
            endpoint: xks.uriEndpoint, uriPath: xks.uriPath,
            credentials: XKSCredentials(accessKeyID: xks.accessKeyID, secretAccessKey: secret.secretAccessKey),
            region: store.region, trustRoots: self.trustRoots, connectTimeout: .milliseconds(milliseconds),
            requestTimeout: .milliseconds(milliseconds), maxIdleConnections: 0)
        let client: XKSClient
        do {
            client = try XKSClient(configuration: configuration)
        } catch {
            return Self.connectionError(error)
        }
        defer { Task { await client.shutdown() } }
        let metadata = XKSRequestMetadata(kmsOperation: "ConnectCustomKeyStore", kmsRequestId: UUID().uuidString)
        do {
            let health = try await client.getHealthStatus(requestMetadata: metadata)
            // A proxy none of whose key managers can serve is not connected to anything.
            guard health.ekmFleetDetails.contains(where: { $0.healthStatus != "UNAVAILABLE" }) else {
                return .xksProxyInvalidResponse
            }
            return nil
        } catch {
            return Self.connectionError(error)
        }
    }

    /// AWS's ConnectionErrorCode for a failed call to a proxy.
    static func connectionError(_ error: XKSClientError) -> CustomKeyStoreConnectionError {
        switch error {
        case .proxy(let answer):
            switch answer.name {
            case .authenticationFailed: return .invalidCredentials
            case .accessDenied: return .xksProxyAccessDenied
            case .invalidUriPath: return .xksProxyInvalidConfiguration
            case .dependencyTimeout: return .xksProxyTimedOut
            default: return .xksProxyInvalidResponse
            }
        case .unreachable: return .xksProxyNotReachable
        case .tlsFailure: return .xksProxyInvalidTLSConfiguration
        case .timedOut: return .xksProxyTimedOut
        case .invalidResponse: return .xksProxyInvalidResponse
        case .invalidRequest: return .xksProxyInvalidConfiguration
        }
    }
}
