import Foundation
import KMSClient
import KMSProto
import KMSRPC
import KMSXKS
import Logging

/// Where the proxy's keys live: kmsd, over the binary protocol, as the proxy's own principal.
/// The proxy never holds key material; kmsd authorizes every call by the key's policy and
/// audits it with the XKS request metadata.
public final class XKSProxyBackend: Sendable {
    let client: KMSClient

    /// A backend calling kmsd through `client`.
    public init(client: KMSClient) { self.client = client }

    func getKeyMetadata(key: String, metadata: XKSBackendXksRequestMetadata) async throws(XKSError)
        -> XKSGetKeyMetadataResponse
    {
        var request = XKSBackendXksGetKeyMetadataRequest()
        request.keyID = key
        request.requestMetadata = metadata
        let answer = try await self.call(XKSBackendMethod.xksGetKeyMetadata, request)
        return XKSGetKeyMetadataResponse(
            keySpec: answer.keySpec, keyUsage: answer.keyUsage, keyStatus: answer.keyStatus)
    }

    func encrypt(key: String, _ xks: XKSEncryptRequest, metadata: XKSBackendXksRequestMetadata)
        async throws(XKSError) -> XKSEncryptResponse
    {
        var request = XKSBackendXksEncryptRequest()
        request.keyID = key
        request.plaintext = xks.plaintext
        request.additionalAuthenticatedData = xks.additionalAuthenticatedData ?? Data()
        request.requestMetadata = metadata
        let answer = try await self.call(XKSBackendMethod.xksEncrypt, request)
        var response = XKSEncryptResponse(
            ciphertext: answer.ciphertext,
            ciphertextMetadata: answer.ciphertextMetadata.isEmpty ? nil : answer.ciphertextMetadata,
            initializationVector: answer.initializationVector, authenticationTag: answer.authenticationTag)
        if xks.ciphertextDataIntegrityValueAlgorithm != nil {
            // Computed on what we received, before any other use of it (the spec's appendix C).
            response.ciphertextDataIntegrityValue = XKSIntegrity.value(
                additionalAuthenticatedData: xks.additionalAuthenticatedData, response: response)
            try await self.verify(key: key, xks, response, metadata: metadata)
        }
        return response
    }

    /// The spec's appendix C, step 3: a CDIV promises AWS KMS that this ciphertext decrypts, so it
    /// is decrypted once (after the CDIV was computed, so a flip since shows) before it is answered.
    /// It needs kms:Decrypt too: a key the proxy may only encrypt with gives no CDIV (AccessDenied).
    /// kmsd audits the check as an XksDecrypt with the Encrypt's request metadata.
    private func verify(
        key: String, _ xks: XKSEncryptRequest, _ response: XKSEncryptResponse,
        metadata: XKSBackendXksRequestMetadata
    ) async throws(XKSError) {
        let check = XKSDecryptRequest(
            requestMetadata: xks.requestMetadata, ciphertext: response.ciphertext,
            ciphertextMetadata: response.ciphertextMetadata, initializationVector: response.initializationVector,
            authenticationTag: response.authenticationTag, additionalAuthenticatedData: xks.additionalAuthenticatedData)
        let opened: XKSDecryptResponse
        do {
            opened = try await self.decrypt(key: key, check, metadata: metadata)
        } catch {
            throw error.name == .invalidCiphertext
                ? XKSError(.internalFailure, "The ciphertext made did not decrypt; retry.") : error
        }
        guard opened.plaintext == xks.plaintext else {
            throw XKSError(.internalFailure, "The ciphertext made did not decrypt to the plaintext; retry.")
        }
    }

    func decrypt(key: String, _ xks: XKSDecryptRequest, metadata: XKSBackendXksRequestMetadata)
        async throws(XKSError) -> XKSDecryptResponse
    {
        var request = XKSBackendXksDecryptRequest()
        request.keyID = key
        request.ciphertext = xks.ciphertext
        request.initializationVector = xks.initializationVector
        request.authenticationTag = xks.authenticationTag
        request.additionalAuthenticatedData = xks.additionalAuthenticatedData ?? Data()
        request.ciphertextMetadata = xks.ciphertextMetadata ?? Data()
        request.requestMetadata = metadata
        let answer = try await self.call(XKSBackendMethod.xksDecrypt, request)
        return XKSDecryptResponse(plaintext: answer.plaintext)
    }

    /// Whether kmsd can do cryptography now: an Encrypt of a few bytes under `key` (kmsd, its
    /// database or cache, kms-cryptod, the key's state and policy), as the spec's deep check asks.
    /// ACTIVE when it worked; DEGRADED when kmsd answered but refused that key (disabled, missing,
    /// denied: the spec's "unhealthy but can still serve traffic", other keys may well work);
    /// UNAVAILABLE when kmsd or kms-cryptod did not do it. Without a key (only pass-through ids
    /// exposed), GetCallerIdentity: kmsd answers, at least.
    func health(key: String?, logger: Logger) async -> XKSHealthStatus {
        do {
            guard let key else {
                _ = try await self.client.callerIdentity()
                return .active
            }
            var request = XKSBackendXksEncryptRequest()
            request.keyID = key
            request.plaintext = Data(count: 16)
            request.requestMetadata.kmsOperation = "KmsHealthCheck"
            request.requestMetadata.kmsRequestID = "kms-xks-proxy-health-\(UUID().uuidString.lowercased())"
            _ = try await self.client.call(XKSBackendMethod.xksEncrypt, request)
            return .active
        } catch {
            logger.warning("health check failed", metadata: ["kmsdError": "\(error.code)"])
            switch error.code {
            case "NotFoundException", "DisabledException", "KMSInvalidStateException", "AccessDeniedException",
                "InvalidKeyUsageException", "IncorrectKeyException", "ValidationException":
                return .degraded
            default:
                return .unavailable
            }
        }
    }

    private func call<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request)
        async throws(XKSError) -> Response
    {
        do {
            return try await self.client.call(method, request)
        } catch {
            throw Self.xksError(error)
        }
    }

    /// kmsd's error as the XKS API names it. A refusal of the proxy itself (its kmsd credentials)
    /// is the proxy's failure, not the caller's: InternalException.
    static func xksError(_ error: KMSClientError) -> XKSError {
        switch error.code {
        case "NotFoundException": return XKSError(.keyNotFound, "The external key was not found.")
        case "DisabledException", "KMSInvalidStateException":
            return XKSError(.invalidState, "The key is disabled or not in a usable state.")
        case "AccessDeniedException":
            return XKSError(.accessDenied, "The key's policy does not allow this operation through this proxy.")
        case "InvalidCiphertextException":
            return XKSError(
                .invalidCiphertext,
                "The ciphertext, initialization vector, authentication tag, AAD or ciphertextMetadata is not valid.")
        case "InvalidKeyUsageException", "IncorrectKeyException":
            return XKSError(.invalidKeyUsage, "The key does not support this operation (only AES-256 keys do).")
        case "ValidationException": return XKSError(.validation, error.message)
        case "ThrottlingException", "LimitExceededException":
            return XKSError(.throttling, "The key manager is busy; retry later.")
        case "DependencyTimeoutException", "RequestTimeoutException":
            return XKSError(.dependencyTimeout, "The key manager did not answer in time.")
        default:
            return XKSError(
                error.retryable ? .dependencyTimeout : .internalFailure,
                "The key manager failed (\(error.code)); see the proxy's log.")
        }
    }
}
