import Crypto
import Foundation
import KMSDomain

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
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let terminator = "aws4_request"
    /// AWS's tolerance for a request's X-Amz-Date against the server's clock.
    public static let defaultClockSkewLimit: TimeInterval = 900
    /// How much of a malformed header an error message repeats back: enough to recognise it,
    /// not enough to turn the error into an amplifier for whatever was sent.
    static let echoLimit = 256

    // MARK: - The Authorization header

    /// The three parts of `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
    public struct Authorization: Sendable, Hashable {
        public var accessKeyID: String
        /// The credential scope's date, `yyyyMMdd`; it must match X-Amz-Date's day (`checkScope`).
        public var date: String
        public var region: String
        public var service: String
        /// Lowercase, sorted, without duplicates, and always including `host`.
        public var signedHeaders: [String]
        /// The 32 bytes of the HMAC-SHA256 the client computed.
        public var signature: [UInt8]

        public init(accessKeyID: String, date: String, region: String, service: String, signedHeaders: [String], signature: [UInt8]) {
            self.accessKeyID = accessKeyID
            self.date = date
            self.region = region
            self.service = service
            self.signedHeaders = signedHeaders
            self.signature = signature
        }

        /// `date/region/service/aws4_request`, the third line of the string to sign.
        public var scope: String { "\(date)/\(region)/\(service)/\(SigV4.terminator)" }
    }

    /// Parses an Authorization header. Whitespace around the comma-separated parts is allowed
    /// and their order is free, as the SDKs differ; everything else is held to what a signer
    /// produces, because a header no signer would produce cannot carry a valid signature and
    /// is better refused with a message that says why than with a signature mismatch.
    ///
    /// Throws IncompleteSignatureException for every defect, as AWS does for a header it cannot
    /// use. The scope's date, region and service are checked separately (`checkScope`).
    public static func parseAuthorization(_ header: String) throws(KMSError) -> Authorization {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        let algorithmEnd = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? trimmed.endIndex
        let algorithmName = trimmed[..<algorithmEnd]
        guard algorithmName == algorithm else {
            throw KMSError(.incompleteSignature, "Unsupported AWS 'algorithm': '\(echo(String(algorithmName)))'.")
        }

        var fields: [String: Substring] = [:]
        for component in trimmed[algorithmEnd...].split(separator: ",", omittingEmptySubsequences: false) {
            let part = component.trimmingCharacters(in: .whitespaces)
            if part.isEmpty { continue }
            guard let equals = part.firstIndex(of: "=") else {
                throw KMSError(.incompleteSignature,
                    "'\(echo(part))' not a valid key=value pair (missing equal-sign) in Authorization header: '\(echo(header))'.")
            }
            let key = String(part[..<equals])
            guard ["Credential", "SignedHeaders", "Signature"].contains(key) else { continue }
            guard fields[key] == nil else {
                throw KMSError(.incompleteSignature, "Authorization header has more than one '\(key)' parameter. Authorization=\(echo(header))")
            }
            fields[key] = Substring(part[part.index(after: equals)...])
        }

        let missing = ["Credential", "Signature", "SignedHeaders"].filter { fields[$0] == nil }
        guard missing.isEmpty, let credential = fields["Credential"], let signedHeadersText = fields["SignedHeaders"],
              let signatureText = fields["Signature"]
        else {
            let sentences = missing.map { "Authorization header requires '\($0)' parameter." }
            throw KMSError(.incompleteSignature, (sentences + ["Authorization=\(echo(header))"]).joined(separator: " "))
        }

        let scope = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard scope.count == 5, !scope[0].isEmpty, !scope[2].isEmpty, !scope[3].isEmpty else {
            throw KMSError(.incompleteSignature,
                "Credential should be of the form '<access key id>/<yyyyMMdd>/<region>/<service>/aws4_request', not '\(echo(String(credential)))'.")
        }
        guard scope[4] == terminator else {
            throw KMSError(.incompleteSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not '\(echo(String(scope[4])))'.")
        }
        guard scope[1].utf8.count == 8, scope[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw KMSError(.incompleteSignature, "Credential should be scoped to a date in the form yyyyMMdd, not '\(echo(String(scope[1])))'.")
        }

        let signedHeaders = try parseSignedHeaders(signedHeadersText)

        guard let signature = decodeHex(signatureText), signature.count == SHA256.byteCount else {
            throw KMSError(.incompleteSignature,
                "Signature should be \(SHA256.byteCount * 2) hexadecimal characters, not '\(echo(String(signatureText)))'.")
        }

        return Authorization(
            accessKeyID: String(scope[0]), date: String(scope[1]), region: String(scope[2]), service: String(scope[3]),
            signedHeaders: signedHeaders, signature: signature
        )
    }

    /// A signer emits the list lowercase and sorted; anything else means we would canonicalize
    /// differently from the client (or that headers were smuggled in), so it is refused here.
    /// `host` is required as AWS requires it: without it a signature could be replayed
    /// against another endpoint.
    static func parseSignedHeaders(_ text: Substring) throws(KMSError) -> [String] {
        let names = text.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        let wellFormed = names.allSatisfy { name in !name.isEmpty && name.utf8.allSatisfy(isLowercaseTokenByte) }
        let sorted = zip(names, names.dropFirst()).allSatisfy { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        guard wellFormed, sorted else {
            throw KMSError(.incompleteSignature,
                "SignedHeaders should be the signed header names, lowercase, sorted and separated by ';', not '\(echo(String(text)))'.")
        }
        guard names.contains("host") else {
            throw KMSError(.incompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        }
        return names
    }

    /// An RFC 9110 token character that is not an uppercase letter.
    static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// Checks the credential scope against the request and this server, with AWS's messages
    /// (InvalidSignatureException). The date must be X-Amz-Date's day: the signing key is
    /// derived from the scope's date, so a mismatch would let an old key sign a new request.
    public static func checkScope(_ authorization: Authorization, amzDate: String, region: String, service: String) throws(KMSError) {
        let day = String(amzDate.prefix(8))
        guard authorization.date == day else {
            throw KMSError(.invalidClientSignature,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '\(echo(authorization.date))' != '\(echo(day))', from '\(echo(amzDate))'.")
        }
        guard authorization.region == region else {
            throw KMSError(.invalidClientSignature, "Credential should be scoped to a valid region, not '\(echo(authorization.region))'.")
        }
        guard authorization.service == service else {
            throw KMSError(.invalidClientSignature, "Credential should be scoped to correct service: '\(service)'.")
        }
    }

    // MARK: - Signing

    /// `AWS4-HMAC-SHA256\n<amzDate>\n<scope>\n<hex sha256 of the canonical request>`.
    public static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        "\(algorithm)\n\(amzDate)\n\(scope)\n\(sha256Hex(canonicalRequest.utf8))"
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    ///
    /// Runs in the crypto worker on the unwrapped secret: the secret stays in bytes (never a
    /// String, whose storage cannot be wiped), the one buffer we build from it is zeroed, and
    /// every intermediate key lives in a `SymmetricKey`, whose storage swift-crypto wipes.
    /// A signing key is only good for one day, region and service, which is what makes it
    /// safe to hand to (and cache in) a less trusted process instead of the secret.
    public static func signingKey(secret: some ContiguousBytes, date: String, region: String, service: String) -> SymmetricKey {
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

    /// The signature the client should have sent.
    public static func signature(signingKey: SymmetricKey, stringToSign: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey))
    }

    /// Checks a client's signature with HMAC's own constant-time comparison, so the time taken
    /// says nothing about how many leading bytes were right.
    public static func verify(signature: [UInt8], signingKey: SymmetricKey, stringToSign: String) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Array(stringToSign.utf8), using: signingKey)
    }

    // MARK: - X-Amz-Date and clock skew

    /// Parses `yyyyMMdd'T'HHmmss'Z'` by hand: DateFormatter depends on locale and calendar
    /// settings and is lenient in ways a signature check must not be (it would accept
    /// 20150230, say). Returns nil for anything but a real UTC instant in exactly that form.
    public static func parseAmzDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
              (1...12).contains(month), (1...daysInMonth(year: year, month: month)).contains(day),
              hour < 24, minute < 60, second < 60
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3_600 + minute * 60 + second))
    }

    /// The X-Amz-Date form of an instant (seconds truncated), for messages and for signers.
    public static func formatAmzDate(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let time = seconds - days * 86_400
        let (year, month, day) = civilFromDays(days)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + "T" + pad(time / 3_600, 2) + pad(time % 3_600 / 60, 2) + pad(time % 60, 2) + "Z"
    }

    /// Refuses a request signed too long ago or too far ahead, with AWS's wording, so a
    /// captured request cannot be replayed after the window closes.
    public static func checkClockSkew(requestDate: Date, now: Date, limit: TimeInterval = defaultClockSkewLimit) throws(KMSError) {
        let window = limit.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(limit / 60)) min." : "\(Int(limit)) sec."
        let earliest = now.addingTimeInterval(-limit)
        let latest = now.addingTimeInterval(limit)
        if requestDate < earliest {
            throw KMSError(.invalidClientSignature,
                "Signature expired: \(formatAmzDate(requestDate)) is now earlier than \(formatAmzDate(earliest)) (\(formatAmzDate(now)) - \(window))")
        }
        if requestDate > latest {
            throw KMSError(.invalidClientSignature,
                "Signature not yet current: \(formatAmzDate(requestDate)) is still later than \(formatAmzDate(latest)) (\(formatAmzDate(now)) + \(window))")
        }
    }

    static func isLeapYear(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    // MARK: - Hex and hashing

    /// The payload hash of the canonical request, and the digest line of the string to sign.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        var hasher = SHA256()
        let hashed: Void? = bytes.withContiguousStorageIfAvailable { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        if hashed == nil { hasher.update(data: Array(bytes)) }
        return hex(hasher.finalize())
    }

    /// Lowercase hex, as SigV4 writes hashes and signatures.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Hex of either case to bytes; nil for an odd length or a non-hex character.
    public static func decodeHex(_ text: some StringProtocol) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    /// At most `echoLimit` characters of client input, control characters replaced, for messages
    /// that reach logs and the client.
    static func echo(_ text: some StringProtocol) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(echoLimit) {
            out.unicodeScalars.append(scalar.properties.generalCategory == .control ? "?" : scalar)
        }
        return text.unicodeScalars.count > echoLimit ? out + "..." : out
    }
}
