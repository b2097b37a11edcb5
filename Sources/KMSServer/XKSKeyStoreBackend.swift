import Foundation
import KMSDomain
import KMSWorkerProto
import KMSXKS
import NIOSSL

/// EXTERNAL_KEY_STORE stores: connecting one is a GetHealthStatus to its proxy, signed with the
/// store's credential (unwrapped by kms-cryptod for this request only), whose failure is
/// AWS's ConnectionErrorCode for it. Keys' cryptographic operations use the client that
/// XKSClientCache keeps per store instead.
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
        let (made, failure) = await self.client(store, storeARN: storeARN, worker: worker)
        guard let client = made else { return failure ?? .internalError }
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

    /// How many connections a cached client (XKSClientCache) may have open to its proxy, all kept
    /// alive: requests past them wait for one rather than open one per request (with 64 Encrypts
    /// in flight and 16 kept, half the throughput went to handshakes; XKSEncryptMeasurement).
    static let connectionsPerStore = 32

    /// A client of `store`'s proxy, signing with its secret (unwrapped by kms-cryptod for this
    /// client only), or why there is none; the caller shuts it down, or leaves it to
    /// XKSClientCache. `pooled`: keeps up to `connectionsPerStore` connections alive, and opens
    /// no more; otherwise one per request.
    func client(
        _ store: CustomKeyStoreRecord, storeARN: String, worker: any CryptoBackend, pooled: Bool = false
    ) async -> (XKSClient?, CustomKeyStoreConnectionError?) {
        guard let xks = store.xks else { return (nil, .xksProxyInvalidConfiguration) }
        var unwrap = WorkerUnwrapXksProxySecretRequest()
        unwrap.accessKeyID = xks.accessKeyID
        unwrap.storeArn = storeARN
        unwrap.wrappedSecret = Data(xks.wrappedSecret)
        guard let secret = try? await worker.call(WorkerMethod.unwrapXksProxySecret, unwrap) else {
            return (nil, .internalError)
        }
        let milliseconds = Int64(self.timeout.components.seconds * 1000)
        let configuration = XKSClientConfiguration(
            endpoint: xks.uriEndpoint, uriPath: xks.uriPath,
            credentials: XKSCredentials(accessKeyID: xks.accessKeyID, secretAccessKey: secret.secretAccessKey),
            region: store.region, trustRoots: self.trustRoots, connectTimeout: .milliseconds(milliseconds),
            requestTimeout: .milliseconds(milliseconds), maxIdleConnections: pooled ? Self.connectionsPerStore : 0,
            maxConnections: pooled ? Self.connectionsPerStore : .max)
        do {
            return (try XKSClient(configuration: configuration), nil)
        } catch {
            return (nil, Self.connectionError(error))
        }
    }

    /// The external key must exist, be AES_256, ENABLED and allowed ENCRYPT and DECRYPT (AWS's
    /// XksKeyInvalidConfigurationException otherwise).
    public func checkNewKey(
        _ store: CustomKeyStoreRecord, storeARN: String, xksKeyID: String?, caller: Caller, worker: any CryptoBackend
    ) async throws(KMSError) {
        guard let xksKeyID else { throw .validation("Origin EXTERNAL_KEY_STORE requires an XksKeyId.") }
        let (made, failure) = await self.client(store, storeARN: storeARN, worker: worker)
        guard let client = made else { throw Self.exception(failure ?? .internalError) }
        defer { Task { await client.shutdown() } }
        // The API requires the principal for GetKeyMetadata (kms-xks-proxy refuses it without).
        let metadata = XKSRequestMetadata(
            awsPrincipalArn: caller.principalARN, kmsOperation: "CreateKey",
            kmsRequestId: caller.requestID.isEmpty ? UUID().uuidString : caller.requestID)
        let answer: XKSGetKeyMetadataResponse
        do {
            answer = try await client.getKeyMetadata(keyID: xksKeyID, requestMetadata: metadata)
        } catch {
            throw Self.keyOperationError(error, creating: true)
        }
        guard answer.keySpec == "AES_256", answer.keyUsage.contains("ENCRYPT"), answer.keyUsage.contains("DECRYPT"),
            answer.keyStatus == "ENABLED"
        else {
            throw KMSError(
                .xksKeyInvalidConfiguration,
                "The external key \(xksKeyID) must be an enabled AES_256 key allowed to ENCRYPT and DECRYPT; the "
                    + "XKS proxy reports \(answer.keySpec), \(answer.keyUsage.joined(separator: "+")), "
                    + "\(answer.keyStatus).")
        }
    }

    /// AWS's exception for a failed key call (GetKeyMetadata, Encrypt, Decrypt) to a proxy.
    /// `creating`: CreateKey's (an unreachable or slow proxy is XksProxyUriUnreachableException
    /// there, DependencyTimeoutException or KMSInvalidStateException in cryptographic operations).
    static func keyOperationError(_ error: XKSClientError, creating: Bool) -> KMSError {
        switch error {
        case .proxy(let answer):
            switch answer.name {
            case .keyNotFound:
                return KMSError(.xksKeyNotFound, "The XKS proxy does not know the external key (\(answer.rawName)).")
            case .invalidKeyUsage, .invalidState:
                return KMSError(
                    .xksKeyInvalidConfiguration,
                    "The external key cannot be used for this operation now (\(answer.rawName)).")
            case .authenticationFailed, .accessDenied:
                return KMSError(
                    .xksProxyIncorrectAuthenticationCredential,
                    "The XKS proxy did not accept the store's authentication credential (\(answer.rawName)).")
            case .invalidCiphertext:
                return KMSError.invalidCiphertext("The external key manager could not decrypt the ciphertext.")
            case .dependencyTimeout, .throttling:
                return KMSError(.dependencyTimeout, "The XKS proxy did not serve the request in time.")
            default:
                return KMSError(
                    .xksProxyInvalidResponse, "The XKS proxy answered with an error (\(answer.rawName)).")
            }
        case .invalidResponse:
            return KMSError(.xksProxyInvalidResponse, "The XKS proxy answered something that is not the XKS API.")
        case .timedOut:
            return creating
                ? KMSError(.xksProxyUriUnreachable, "The XKS proxy did not answer in time.")
                : KMSError(.dependencyTimeout, "The XKS proxy did not answer in time.")
        case .unreachable, .tlsFailure:
            return creating
                ? KMSError(.xksProxyUriUnreachable, "KMS was unable to reach the XKS proxy.")
                : KMSError(.invalidState, "KMS was unable to reach the XKS proxy of the key's store.")
        case .invalidRequest:
            return KMSError(.xksProxyInvalidConfiguration, "The request to the XKS proxy could not be made.")
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
