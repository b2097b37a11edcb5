import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSProto
import KMSRPC
import KMSStore
import Logging

/// Checks AWS Signature Version 4 on requests to the AWS JSON endpoint. The signing key of an
/// access key for a day and region comes from kms-cryptod (the long-term secret never leaves
/// it) and is cached with the principals (dropped on any change to the principal or its keys),
/// so a request costs one HMAC of its own and no round trip. Whether
/// the key is still active is asked of the principal cache on every request (PolicyGate), so
/// deactivating it takes effect at once.
public final class SigV4Authenticator: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var uri: String
        /// In the order received, names as sent.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, uri: String, headers: [(name: String, value: String)], body: [UInt8]) {
            self.method = method
            self.uri = uri
            self.headers = headers
            self.body = body
        }

        func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name }?.value
        }
    }

    let scope: ServiceScope
    let identities: IdentityStore
    let worker: WorkerPool
    let cache: KeyCache
    let logger: Logger
    let now: @Sendable () -> Date

    public init(scope: ServiceScope, identities: IdentityStore, worker: WorkerPool, cache: KeyCache, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.scope = scope
        self.identities = identities
        self.worker = worker
        self.cache = cache
        self.logger = logger
        self.now = now
    }

    static func mismatch() -> KMSError {
        KMSError(
            .invalidClientSignature,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        )
    }

    public func verify(_ request: Request) async throws(KMSError) -> RPCIdentity {
        guard let header = request.header("authorization") else {
            throw KMSError(.missingAuthenticationToken, "Missing Authentication Token")
        }
        let authorization = try SigV4.parseAuthorization(header)
        guard authorization.service == "kms" else {
            throw KMSError(.invalidClientSignature, "Credential should be scoped to correct service: 'kms'.")
        }
        guard self.scope.regions.contains(authorization.region) else {
            throw KMSError(.unrecognizedClient, "Credential should be scoped to a valid region; this service serves \(self.scope.regions.sorted().joined(separator: ", ")).")
        }
        guard let amzDate = request.header("x-amz-date"), let date = SigV4.parseAmzDate(amzDate) else {
            throw KMSError(.incompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        }
        guard amzDate.hasPrefix(authorization.date) else {
            throw KMSError(.invalidClientSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '\(authorization.date)' != '\(amzDate.prefix(8))'")
        }
        guard authorization.signedHeaders.contains("x-amz-date") else {
            throw KMSError(.incompleteSignature, "The X-Amz-Date header must be signed.")
        }
        try SigV4.checkClockSkew(requestDate: date, now: self.now())

        let bodyHash = SigV4.sha256Hex(request.body)
        if let declared = request.header("x-amz-content-sha256"), declared != "UNSIGNED-PAYLOAD", declared.lowercased() != bodyHash {
            throw KMSError(.invalidClientSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
        let (path, query) = Self.split(request.uri)
        let canonical = SigV4.canonicalRequest(
            method: request.method, path: path, query: query, headers: request.headers,
            signedHeaders: authorization.signedHeaders, payloadSHA256Hex: bodyHash
        )
        let scope = "\(authorization.date)/\(authorization.region)/\(authorization.service)/aws4_request"
        let stringToSign = SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical)
        let signing = try await self.signingKey(for: authorization)
        guard SigV4.verify(signature: authorization.signature, signingKey: signing.key, stringToSign: stringToSign) else {
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
        guard AccessKeySecrets.isValidAccessKeyID(authorization.accessKeyID), !self.cache.isUnknownAccessKey(authorization.accessKeyID) else {
            throw PolicyGate.invalidToken()
        }
        let record = try await storeCall(logger: self.logger) { try await self.identities.accessKey(authorization.accessKeyID) }
        if record == nil { self.cache.rememberUnknownAccessKey(authorization.accessKeyID) }
        guard let record, record.status == .active else { throw PolicyGate.invalidToken() }
        var derive = WorkerDeriveSigningKeyRequest()
        derive.accessKeyID = record.accessKeyID
        derive.principalArn = record.principalARN
        derive.wrappedSecret = Data(record.wrappedSecret)
        derive.date = authorization.date
        derive.region = authorization.region
        derive.service = authorization.service
        let derived = try await self.worker.call(WorkerMethod.deriveSigningKey, derive)
        let entry = CachedSigningKey(principalARN: record.principalARN, key: SymmetricKey(data: derived.signingKey))
        self.cache.storeSigningKey(entry, as: cacheKey, loadedAt: generation)
        return entry
    }

    static func split(_ uri: String) -> (path: String, query: String) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }
}
