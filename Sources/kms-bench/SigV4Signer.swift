import Crypto
import Foundation
import Synchronization

/// Signs AWS JSON requests with Signature Version 4, as the AWS SDKs do, for the load: the
/// signing key and what else changes only with the day (the scope, the Authorization header's
/// start) are made once per day, the rest (the body's hash, the canonical request, one HMAC) per
/// request. kms-bench builds every request itself, so its canonical form is fixed: POST to `/`,
/// no query, and the four headers the SDKs sign. Built as bytes, not string interpolation: the
/// signer shares the machine's cores with the server it measures (it was 15 % of kms-bench's
/// time under `--protocol aws-json`).
final class SigV4Signer: Sendable {
    private struct Day: Sendable {
        /// yyyyMMdd.
        let day: String
        let key: SymmetricKey
        /// `day/region/service/aws4_request`.
        let scope: [UInt8]
        /// `AWS4-HMAC-SHA256 Credential=<key id>/<scope>, SignedHeaders=..., Signature=`.
        let authorizationPrefix: [UInt8]
    }

    private static let contentType = "application/x-amz-json-1.1"
    private static let signedHeaders = "content-type;host;x-amz-date;x-amz-target"

    private let accessKeyID: String
    private let secret: [UInt8]
    private let region: String
    private let service: String
    private let today = Mutex<Day?>(nil)

    init(accessKeyID: String, secretAccessKey: String, region: String, service: String = "kms") {
        self.accessKeyID = accessKeyID
        self.secret = Array("AWS4\(secretAccessKey)".utf8)
        self.region = region
        self.service = service
    }

    /// The headers of one request: host, content type, target, date and its authorization.
    func headers(host: String, target: String, body: [UInt8], now: Date = Date()) -> [(String, String)] {
        let amzDate = Self.amzDate(now)
        let day = self.day(String(decoding: amzDate.prefix(8), as: UTF8.self))
        var canonical: [UInt8] = []
        canonical.reserveCapacity(256 + host.utf8.count + target.utf8.count)
        canonical += "POST\n/\n\ncontent-type:\(Self.contentType)\nhost:".utf8
        canonical += host.utf8
        canonical += "\nx-amz-date:".utf8
        canonical += amzDate
        canonical += "\nx-amz-target:".utf8
        canonical += target.utf8
        canonical += "\n\n\(Self.signedHeaders)\n".utf8
        Self.appendHex(SHA256.hash(data: body), to: &canonical)
        var stringToSign: [UInt8] = []
        stringToSign.reserveCapacity(160)
        stringToSign += "AWS4-HMAC-SHA256\n".utf8
        stringToSign += amzDate
        stringToSign.append(UInt8(ascii: "\n"))
        stringToSign += day.scope
        stringToSign.append(UInt8(ascii: "\n"))
        Self.appendHex(SHA256.hash(data: canonical), to: &stringToSign)
        var authorization = day.authorizationPrefix
        Self.appendHex(HMAC<SHA256>.authenticationCode(for: stringToSign, using: day.key), to: &authorization)
        return [
            ("Host", host), ("Content-Type", Self.contentType), ("X-Amz-Target", target),
            ("X-Amz-Date", String(decoding: amzDate, as: UTF8.self)),
            ("Authorization", String(decoding: authorization, as: UTF8.self)),
        ]
    }

    private func day(_ day: String) -> Day {
        self.today.withLock { cached in
            if let cached, cached.day == day { return cached }
            var key = SymmetricKey(data: self.secret)
            for part in [day, self.region, self.service, "aws4_request"] {
                key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
            }
            let scope = "\(day)/\(self.region)/\(self.service)/aws4_request"
            let authorization =
                "AWS4-HMAC-SHA256 Credential=\(self.accessKeyID)/\(scope), SignedHeaders=\(Self.signedHeaders), "
                + "Signature="
            let made = Day(day: day, key: key, scope: Array(scope.utf8), authorizationPrefix: Array(authorization.utf8))
            cached = made
            return made
        }
    }

    /// yyyyMMdd'T'HHmmss'Z' in UTC, as bytes.
    static func amzDate(_ date: Date) -> [UInt8] {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out: [UInt8] = []
        out.reserveCapacity(16)
        func digits(_ value: Int32, _ count: Int) {
            var divisor: Int32 = 1
            for _ in 1..<count { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
                divisor /= 10
            }
        }
        digits(parts.tm_year + 1900, 4)
        digits(parts.tm_mon + 1, 2)
        digits(parts.tm_mday, 2)
        out.append(UInt8(ascii: "T"))
        digits(parts.tm_hour, 2)
        digits(parts.tm_min, 2)
        digits(parts.tm_sec, 2)
        out.append(UInt8(ascii: "Z"))
        return out
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func appendHex(_ bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        for byte in bytes {
            out.append(Self.hexDigits[Int(byte >> 4)])
            out.append(Self.hexDigits[Int(byte & 0x0f)])
        }
    }
}
