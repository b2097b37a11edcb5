import KMSCrypto
import KMSDomain
import KMSRPC
import KMSStore
import KMSWorkerProto
import Logging

/// Decides who a connection is from its answer to the challenge: an access key whose proof
/// kms-cryptod checks (the secret never leaves it), a TLS client certificate mapped to a
/// principal, or, only in insecure development mode, nobody (the default account's root).
public struct ConnectionAuthenticator: Sendable {
    let scope: ServiceScope
    let identities: any IdentityStoring
    let worker: any CryptoBackend
    let allowAnonymous: Bool
    /// Remembers access key ids that named nothing, so repeating one costs no query.
    let cache: KeyCache?
    let logger: Logger
    let metrics: ServiceMetrics

    /// An authenticator for the binary listener's handshake. `allowAnonymous` (development only) lets a connection
    /// without credentials act as the default account's root; `cache` remembers unknown access key ids.
    public init(
        scope: ServiceScope, identities: any IdentityStoring, worker: any CryptoBackend, allowAnonymous: Bool,
        cache: KeyCache? = nil, logger: Logger,
        metrics: ServiceMetrics = ServiceMetrics()
    ) {
        self.metrics = metrics
        self.scope = scope
        self.identities = identities
        self.worker = worker
        self.allowAnonymous = allowAnonymous
        self.cache = cache
        self.logger = logger
    }

    /// The identity of a handshake's answer: a certificate's mapped principal, an access key whose proof kms-cryptod
    /// accepts or, if allowed, anonymous. Throws UnrecognizedClientException, InvalidSignatureException or
    /// MissingAuthenticationTokenException as AWS would answer.
    public func verify(_ attempt: RPCAuthenticationAttempt) async throws(KMSError) -> RPCIdentity {
        if attempt.accessKeyID.isEmpty {
            if let principal = attempt.certificatePrincipal {
                guard try await self.lookup({ try await self.identities.principal(principal) }) != nil else {
                    throw KMSError(
                        .unrecognizedClient,
                        "The client certificate maps to \(principal), which is not a known principal.")
                }
                return RPCIdentity(principalARN: principal, method: .certificate)
            }
            if self.allowAnonymous {
                let root = PrincipalRecord.arn(
                    partition: self.scope.partition, account: self.scope.defaultAccount, kind: .root, name: "root")
                return RPCIdentity(principalARN: root, method: .anonymous)
            }
            throw KMSError(
                .missingAuthenticationToken,
                "The connection must authenticate with an access key or a client certificate.")
        }
        guard AccessKeySecrets.isValidAccessKeyID(attempt.accessKeyID),
            self.cache?.isUnknownAccessKey(attempt.accessKeyID) != true
        else {
            throw PolicyGate.invalidToken()
        }
        let found = try await self.lookup { try await self.identities.accessKey(attempt.accessKeyID) }
        if found == nil { self.cache?.rememberUnknownAccessKey(attempt.accessKeyID) }
        guard let key = found, key.status == .active else { throw PolicyGate.invalidToken() }
        var request = WorkerVerifyAccessKeyProofRequest()
        request.accessKeyID = key.accessKeyID
        request.principalArn = key.principalARN
        request.wrappedSecret = .init(key.wrappedSecret)
        request.challenge = .init(attempt.nonce)
        request.proof = .init(attempt.proof)
        guard try await self.worker.call(WorkerMethod.verifyAccessKeyProof, request).valid else {
            throw KMSError(
                .invalidClientSignature,
                "The request signature we calculated does not match the signature you provided. Check your AWS "
                    + "Secret Access Key and signing method."
            )
        }
        return RPCIdentity(principalARN: key.principalARN, accessKeyID: key.accessKeyID, method: .accessKey)
    }

    private func lookup<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(KMSError) -> T {
        try await storeCall(logger: self.logger, metrics: self.metrics, body)
    }
}
