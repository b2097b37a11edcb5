import Crypto
import Foundation
import Synchronization

/// Signs AWS JSON requests with Signature Version 4, as the AWS SDKs do, for the load: the
/// signing key is derived once per day, the rest (the body's hash, the canonical request, one
/// HMAC) per request. kms-bench builds every request itself, so its canonical form is fixed:
/// POST to `/`, no query, and the four headers the SDKs sign.
final class SigV4Signer: Sendable {
    private let accessKeyID: String
    private let secret: [UInt8]
    private let region: String
    private let service: String
    /// The day (yyyyMMdd) and its signing key.
    private let dayKey = Mutex<(day: String, key: SymmetricKey)?>(nil)

    init(accessKeyID: String, secretAccessKey: String, region: String, service: String = "kms") {
        self.accessKeyID = accessKeyID
        self.secret = Array("AWS4\(secretAccessKey)".utf8)
        self.region = region
        self.service = service
    }

    /// The headers of one request: host, content type, target, date and its authorization.
    func headers(host: String, target: String, body: [UInt8], now: Date = Date()) -> [(String, String)] {
        let amzDate = Self.amzDate(now)
        let day = String(amzDate.prefix(8))
        let contentType = "application/x-amz-json-1.1"
        let canonical =
            "POST\n/\n\ncontent-type:\(contentType)\nhost:\(host)\nx-amz-date:\(amzDate)\nx-amz-target:\(target)\n\n"
            + "content-type;host;x-amz-date;x-amz-target\n\(Self.hex(SHA256.hash(data: body)))"
        let scope = "\(day)/\(self.region)/\(self.service)/aws4_request"
        let stringToSign =
            "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.hex(SHA256.hash(data: Array(canonical.utf8))))"
        let signature = HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: self.signingKey(day))
        return [
            ("Host", host), ("Content-Type", contentType), ("X-Amz-Target", target), ("X-Amz-Date", amzDate),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(self.accessKeyID)/\(scope), "
                    + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=\(Self.hex(signature))"
            ),
        ]
    }

    private func signingKey(_ day: String) -> SymmetricKey {
        self.dayKey.withLock { cached in
            if let cached, cached.day == day { return cached.key }
            var key = SymmetricKey(data: self.secret)
            for part in [day, self.region, self.service, "aws4_request"] {
                key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
            }
            cached = (day, key)
            return key
        }
    }

    /// yyyyMMdd'T'HHmmss'Z' in UTC, without a DateFormatter (which would cost more than the signing).
    static func amzDate(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
