import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSRPC
import KMSSigV4
import KMSStore
import KMSWorkerProto
import Logging
import Synchronization

/// Checks AWS Signature Version 4 on requests to the AWS JSON endpoint. The signing key of an
/// access key for a day and region comes from kms-cryptod (the long-term secret never leaves
/// it) and is cached with the principals (dropped on any change to the principal or its keys),
/// so a request costs one HMAC of its own and no round trip. Whether
/// the key is still active is asked of the principal cache on every request (PolicyGate), so
/// deactivating it takes effect at once.
public final class SigV4Authenticator: Sendable {
    /// An HTTP request as SigV4 signs it: method, target, headers in the order received, the body.
    public typealias Request = HTTPRequest

    let scope: ServiceScope
    let hosts: SigV4.HostNames
    let defaultPort: Int
    let identities: any IdentityStoring
    let worker: any CryptoBackend
    let cache: KeyCache
    let logger: Logger
    let now: @Sendable () -> Date
    let metrics: ServiceMetrics
    /// Host header values found acceptable. The accepted hosts never change and a client sends
    /// the same Host on every request, while deciding afresh costs an address parse and a
    /// lowercased copy. Bounded: past `rememberedHosts` values, the rest are decided every time.
    private let allowedHosts = Mutex<Set<String>>([])
    static let rememberedHosts = 64

    /// `hosts` are the Host header values accepted (`--aws-json-host`); `defaultPort` is what a
    /// Host without a port means (443 over TLS, else 80).
    public init(
        scope: ServiceScope, hosts: SigV4.HostNames, defaultPort: Int, identities: any IdentityStoring,
        worker: any CryptoBackend,
        cache: KeyCache,
        logger: Logger, now: @escaping @Sendable () -> Date = { Date() }, metrics: ServiceMetrics = ServiceMetrics()
    ) {
        self.metrics = metrics
        self.scope = scope
        self.hosts = hosts
        self.defaultPort = defaultPort
        self.identities = identities
        self.worker = worker
        self.cache = cache
        self.logger = logger
        self.now = now
    }

    static func mismatch() -> KMSError {
        KMSError(
            .invalidClientSignature,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
                + "Access Key and signing method. Consult the service documentation for details."
        )
    }

    /// Everything that needs no key comes first (header shape, what is signed, host, scope,
    /// clock, body hash), so a request that cannot be valid costs neither a database lookup
    /// nor a worker call.
    public func verify(_ request: Request) async throws(KMSError) -> RPCIdentity {
        guard let header = request.header("authorization") else {
            throw KMSError(.missingAuthenticationToken, "Missing Authentication Token")
        }
        guard request.count("authorization") == 1 else {
            throw KMSError(
                .incompleteSignature, "The request has more than one 'authorization' header; it must have one.")
        }
        let authorization = try SigV4.parseAuthorization(header)
        guard authorization.service == "kms" else {
            throw KMSError(.invalidClientSignature, "Credential should be scoped to correct service: 'kms'.")
        }
        guard self.scope.regions.contains(authorization.region) else {
            throw KMSError(
                .unrecognizedClient,
                "Credential should be scoped to a valid region; this service serves "
                    + "\(self.scope.regions.sorted().joined(separator: ", "))."
            )
        }
        try SigV4.checkSignedHeaders(request.headers, signedHeaders: authorization.signedHeaders)
        // Signed, so the client meant this host: a request signed for another endpoint is refused.
        guard let host = request.header("host"), self.allows(host: host) else {
            let shown = request.header("host").map { "'\(LogEscaping.escape($0, limit: 128))'" } ?? "none"
            throw KMSError(
                .invalidClientSignature,
                "The request was signed for host \(shown), which is not a name this endpoint answers to.")
        }
        guard let amzDate = request.header("x-amz-date"), let date = SigV4.parseAmzDate(amzDate) else {
            throw KMSError(
                .incompleteSignature,
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        }
        guard amzDate.hasPrefix(authorization.date) else {
            throw KMSError(
                .invalidClientSignature,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                    + "'\(authorization.date)' != '\(amzDate.prefix(8))'"
            )
        }
        guard authorization.signedHeaders.contains("x-amz-date") else {
            throw KMSError(.incompleteSignature, "The X-Amz-Date header must be signed.")
        }
        try SigV4.checkClockSkew(requestDate: date, now: self.now())

        let bodyHash = SigV4.sha256Hex(request.body)
        try SigV4.checkContentSHA256(request.header("x-amz-content-sha256"), bodySHA256Hex: bodyHash)
        let (path, query) = Self.split(request.uri)
        let canonical = SigV4.canonicalRequest(
            method: request.method, path: path, query: query, headers: request.headers,
            signedHeaders: authorization.signedHeaders, payloadSHA256Hex: bodyHash
        )
        let stringToSign = SigV4.stringToSign(
            amzDate: amzDate, scope: authorization.scope, canonicalRequest: canonical)
        let signing = try await self.signingKey(for: authorization)
        guard SigV4.verify(signature: authorization.signature, signingKey: signing.key, stringToSign: stringToSign)
        else {
            throw Self.mismatch()
        }
        return RPCIdentity(
            principalARN: signing.principalARN, accessKeyID: authorization.accessKeyID, method: .signature,
            region: authorization.region
        )
    }

    private func signingKey(for authorization: SigV4.Authorization) async throws(KMSError) -> CachedSigningKey {
        let cacheKey = "\(authorization.accessKeyID)/\(authorization.date)/\(authorization.region)"
        if let cached = self.cache.signingKey(cacheKey) { return cached }
        let generation = self.cache.generation
        guard AccessKeySecrets.isValidAccessKeyID(authorization.accessKeyID),
            !self.cache.isUnknownAccessKey(authorization.accessKeyID)
        else {
            throw PolicyGate.invalidToken()
        }
        let record = try await storeCall(logger: self.logger, metrics: self.metrics) {
            try await self.identities.accessKey(authorization.accessKeyID)
        }
        if record == nil { self.cache.rememberUnknownAccessKey(authorization.accessKeyID) }
        guard let record, record.status == .active else { throw PolicyGate.invalidToken() }
        var derive = WorkerDeriveSigningKeyRequest()
        derive.accessKeyID = record.accessKeyID
        derive.principalArn = record.principalARN
        derive.wrappedSecret = Data(record.wrappedSecret)
        derive.date = authorization.date
        derive.region = authorization.region
        derive.service = authorization.service
        let derived: WorkerDeriveSigningKeyResponse
        do {
            derived = try await self.worker.call(WorkerMethod.deriveSigningKey, derive)
        } catch  where error.code == .accessDenied {
            // kmsd checked the scope already: kms-cryptod disagrees about the regions served
            // (its --regions) or about today's date.
            self.logger.error(
                "kms-cryptod refused to derive a signing key; do its --regions match kmsd's?",
                metadata: [
                    "scope": "\(authorization.scope)", "reason": .untrusted(error.message),
                ])
            throw KMSError(
                .invalidClientSignature, "Credential scope '\(authorization.scope)' is not accepted by this service.")
        }
        let entry = CachedSigningKey(principalARN: record.principalARN, key: SymmetricKey(data: derived.signingKey))
        self.cache.storeSigningKey(entry, as: cacheKey, loadedAt: generation)
        return entry
    }

    func allows(host: String) -> Bool {
        if self.allowedHosts.withLock({ $0.contains(host) }) { return true }
        guard self.hosts.allows(host: host, defaultPort: self.defaultPort) else { return false }
        self.allowedHosts.withLock { remembered in
            if remembered.count < Self.rememberedHosts { remembered.insert(host) }
        }
        return true
    }

    static func split(_ uri: String) -> (path: String, query: String) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }
}
