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

    /// A signed GetHealthStatus to the store's proxy; AWS's ConnectionErrorCode when it fails.
    public func connect(_ store: CustomKeyStoreRecord, storeARN: String, worker: any CryptoBackend) async
        -> CustomKeyStoreConnectionError?
    {
        await self.probe(store, storeARN: storeARN, worker: worker, operation: "ConnectCustomKeyStore")
    }

    /// A signed GetHealthStatus with the new settings, refused with AWS's exception when it fails.
    public func validate(
        _ store: CustomKeyStoreRecord, storeARN: String, operation: String, worker: any CryptoBackend
    ) async throws(KMSError) {
        guard let failure = await self.probe(store, storeARN: storeARN, worker: worker, operation: operation) else {
            return
        }
        throw Self.exception(failure)
    }

    /// AWS's exception for new settings that fail as `failure`.
    static func exception(_ failure: CustomKeyStoreConnectionError) -> KMSError {
        switch failure {
        case .invalidCredentials, .xksProxyAccessDenied:
            return KMSError(
                .xksProxyIncorrectAuthenticationCredential,
                "The XKS proxy did not accept the XksProxyAuthenticationCredential (\(failure.rawValue)).")
        case .xksProxyInvalidResponse:
            return KMSError(.xksProxyInvalidResponse, "The XKS proxy answered GetHealthStatus with something invalid.")
        case .xksProxyInvalidConfiguration:
            return KMSError(
                .xksProxyInvalidConfiguration,
                "The XKS proxy does not serve this XksProxyUriPath, or the settings cannot be used.")
        case .internalError:
            return KMSError.internalFailure()
        default:
            return KMSError(
                .xksProxyUriUnreachable,
                "KMS was unable to reach the XKS proxy at this XksProxyUriEndpoint and XksProxyUriPath, or none of "
                    + "its key managers is available (\(failure.rawValue)).")
        }
    }

    /// A GetHealthStatus with `store`'s settings: nil when it works, else why not.
    func probe(_ store: CustomKeyStoreRecord, storeARN: String, worker: any CryptoBackend, operation: String) async
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
        let metadata = XKSRequestMetadata(kmsOperation: operation, kmsRequestId: UUID().uuidString)
        do {
            let health = try await client.getHealthStatus(requestMetadata: metadata)
            // A proxy none of whose key managers can serve is as good as unreachable (AWS answers
            // XksProxyUriUnreachableException for it on CreateCustomKeyStore).
            guard health.ekmFleetDetails.contains(where: { $0.healthStatus != "UNAVAILABLE" }) else {
                return .xksProxyNotReachable
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
