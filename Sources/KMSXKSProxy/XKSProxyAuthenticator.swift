import Crypto
import Foundation
import KMSCrypto
import KMSSigV4
import KMSXKS
import Synchronization

/// Checks a request's SigV4 signature for the service `kms-xks-proxy` against the proxy's own
/// access keys, with KMSSigV4's parsing and canonical request (kmsd's AWS JSON endpoint's). The
/// signature comparison is HMAC's constant-time one. Every failure is AuthenticationFailedException,
/// with a message that says what was wrong but never which part of a signature matched.
public final class XKSProxyAuthenticator: Sendable {
    /// The spec's window for a request's X-Amz-Date: five minutes either way.
    public static let clockSkewLimit: TimeInterval = 300

    private let secrets: [String: [UInt8]]
    private let regions: Set<String>
    private let now: @Sendable () -> Date
    /// Signing keys by access key id, day and region: derived once a day, not once a request.
    private let signingKeys = Mutex<[String: SymmetricKey]>([:])

    /// An authenticator accepting `credentials`, scoped to `regions` (empty: any region).
    public init(
        credentials: [XKSProxyConfiguration.Credential], regions: [String],
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        var secrets: [String: [UInt8]] = [:]
        for credential in credentials { secrets[credential.accessKeyId] = Array(credential.secretAccessKey.utf8) }
        self.secrets = secrets
        self.regions = Set(regions)
        self.now = now
    }

    /// The access key id that signed `request`, or AuthenticationFailedException.
    public func authenticate(_ request: XKSProxyRequest) throws(XKSError) -> String {
        guard let header = request.header("authorization") else {
            throw Self.failed("The request has no (or more than one) Authorization header.")
        }
        let authorization: SigV4.Authorization
        do {
            authorization = try SigV4.parseAuthorization(header)
        } catch {
            throw Self.failed(error.message)
        }
        guard authorization.service == XKSSigner.service else {
            throw Self.failed("The credential scope must name the service '\(XKSSigner.service)'.")
        }
        guard self.regions.isEmpty || self.regions.contains(authorization.region) else {
            throw Self.failed("The credential scope names a region this proxy does not accept.")
        }
        guard authorization.signedHeaders.contains("x-amz-date"), let amzDate = request.header("x-amz-date"),
            let date = SigV4.parseAmzDate(amzDate)
        else {
            throw Self.failed("X-Amz-Date must be present, signed and yyyyMMdd'T'HHmmss'Z'.")
        }
        // Only Host and X-Amz-Date need be signed: AWS KMS signs those two and sends a Content-Type
        // it does not sign, so kmsd's rule (every x-amz-* header and Content-Type) would refuse it.
        do {
            try SigV4.checkScope(
                authorization, amzDate: amzDate, region: authorization.region, service: XKSSigner.service)
            try SigV4.checkClockSkew(requestDate: date, now: self.now(), limit: Self.clockSkewLimit)
        } catch {
            throw Self.failed(error.message)
        }
        guard let secret = self.secrets[authorization.accessKeyID] else {
            throw Self.failed("The access key id is not one this proxy accepts.")
        }
        let bodyHash = SigV4.sha256Hex(request.body)
        let canonical = SigV4.canonicalRequest(
            method: request.method, path: request.path, query: request.query, headers: request.headers,
            signedHeaders: authorization.signedHeaders, payloadSHA256Hex: bodyHash)
        let stringToSign = SigV4.stringToSign(amzDate: amzDate, scope: authorization.scope, canonicalRequest: canonical)
        let key = self.signingKey(authorization, secret: secret)
        guard SigV4.verify(signature: authorization.signature, signingKey: key, stringToSign: stringToSign) else {
            throw Self.failed("The signature does not match the request.")
        }
        return authorization.accessKeyID
    }

    private func signingKey(_ authorization: SigV4.Authorization, secret: [UInt8]) -> SymmetricKey {
        let name = "\(authorization.accessKeyID)/\(authorization.date)/\(authorization.region)"
        return self.signingKeys.withLock { keys in
            if let key = keys[name] { return key }
            // Yesterday's keys go as today's come: the map stays as small as the key list.
            if keys.count > 4 * max(1, self.secrets.count) { keys.removeAll() }
            let key = SigV4.signingKey(
                secret: secret, date: authorization.date, region: authorization.region, service: XKSSigner.service)
            keys[name] = key
            return key
        }
    }

    static func failed(_ message: String) -> XKSError { XKSError(.authenticationFailed, message) }
}
