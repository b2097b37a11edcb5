import Crypto
import Foundation

/// AWS Signature Version 4, the receiving half: what kmsd's HTTP front end needs to check a
/// request signed by boto3, the aws CLI or the AWS Encryption SDK (AWS JSON 1.1, `POST /` with
/// `X-Amz-Target: TrentService.<Operation>`), and what the crypto worker needs to derive a
/// signing key from an unwrapped secret.
///
/// Pure functions, no I/O and no clock: the caller passes `now`, which keeps the skew check
/// testable and lets the front end and the worker agree on one instant.
///
/// The work divides along the trust boundary. The front end parses the `Authorization` header,
/// checks the scope and the clock, and builds the string to sign; it never sees a secret. The
/// worker, which holds the unwrapped secret only inside `AccessKeySecrets.withUnwrapped`,
/// derives the signing key and verifies. Errors carry AWS's exception names and wording, since
/// the SDKs surface them to users verbatim.
///
/// The code divides the same way. This type and the worker's half (the signing key, and the
/// X-Amz-Date form its scope check reads) are here; KMSSigV4 extends it with the front end's
/// half (the Authorization header, the canonical request, the signature check, the clock
/// skew), which kms-cryptod does not link.
public enum SigV4 {
    /// The algorithm name an Authorization header and the string to sign begin with.
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// The last element of a credential scope, which the signing key derivation also ends with.
    public static let terminator = "aws4_request"

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    ///
    /// Runs in the crypto worker on the unwrapped secret: the secret stays in bytes (never a
    /// String, whose storage cannot be wiped), the one buffer we build from it is zeroed, and
    /// every intermediate key lives in a `SymmetricKey`, whose storage swift-crypto wipes.
    /// A signing key is only good for one day, region and service, which is what makes it
    /// safe to hand to (and cache in) a less trusted process instead of the secret.
    public static func signingKey(secret: some ContiguousBytes, date: String, region: String, service: String)
        -> SymmetricKey
    {
        var keyBytes = secret.withUnsafeBytes { raw in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(4 + raw.count)
            bytes.append(contentsOf: "AWS4".utf8)
            bytes.append(contentsOf: raw)
            return bytes
        }
        defer { zeroize(&keyBytes) }
        var key = SymmetricKey(data: keyBytes)
        for step in [date, region, service, terminator] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(step.utf8), using: key))
        }
        return key
    }
}
