import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSSigV4
import Synchronization

/// Signs XKS requests with SigV4 for the service `kms-xks-proxy`, through the same functions
/// kmsd verifies its AWS JSON requests with (KMSSigV4's canonical request and string to sign,
/// KMSCrypto's signing key), so there is one SigV4 in the project. Signs `content-type`
/// (XKSClient always sends `application/json`), `host` and `x-amz-date`: a proxy that checks
/// SigV4 as AWS services do (kms-xks-proxy) refuses a Content-Type header left unsigned.
public final class XKSSigner: Sendable {
    /// The SigV4 service name of the XKS proxy API.
    public static let service = "kms-xks-proxy"

    private let credentials: XKSCredentials
    private let region: String
    /// The day (`yyyyMMdd`) and its signing key: derived once a day, not once a request.
    private let dayKey = Mutex<(day: String, key: SymmetricKey)?>(nil)

    /// A signer for `credentials` scoped to `region`.
    public init(credentials: XKSCredentials, region: String) {
        self.credentials = credentials
        self.region = region
    }

    /// The `Content-Type` every XKS request is sent with, and signed with.
    public static let contentType = "application/json"

    /// The `X-Amz-Date` and `Authorization` headers of a POST of `body` to `path` on `host`
    /// (the Host header's value, `name[:port]`) with Content-Type `contentType`.
    public func headers(host: String, path: String, body: some Collection<UInt8>, now: Date = Date())
        -> [(name: String, value: String)]
    {
        let amzDate = SigV4.formatAmzDate(now)
        let day = String(amzDate.prefix(8))
        let signed = ["content-type", "host", "x-amz-date"]
        let canonical = SigV4.canonicalRequest(
            method: "POST", path: path, query: "",
            headers: [("content-type", Self.contentType), ("host", host), ("x-amz-date", amzDate)],
            signedHeaders: signed, payloadSHA256Hex: SigV4.sha256Hex(Array(body)))
        let scope = "\(day)/\(self.region)/\(Self.service)/\(SigV4.terminator)"
        let signature = SigV4.signature(
            signingKey: self.signingKey(day),
            stringToSign: SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical))
        let authorization =
            "\(SigV4.algorithm) Credential=\(self.credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signed.joined(separator: ";")), Signature=\(Hex.encode(signature))"
        return [("X-Amz-Date", amzDate), ("Authorization", authorization)]
    }

    private func signingKey(_ day: String) -> SymmetricKey {
        self.dayKey.withLock { cached in
            if let cached, cached.day == day { return cached.key }
            let key = SigV4.signingKey(
                secret: self.credentials.secretAccessKey, date: day, region: self.region, service: Self.service)
            cached = (day, key)
            return key
        }
    }
}
