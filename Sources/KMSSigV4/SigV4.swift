import Crypto
import Foundation
import KMSCrypto
import KMSDomain

/// SigV4's front-end half, which only kmsd links: the Authorization header, the scope and the
/// clock, the string to sign, and the check of a signature against a signing key the worker
/// derived (`SigV4` in KMSCrypto says how the work divides).
extension SigV4 {
    /// AWS's tolerance for a request's X-Amz-Date against the server's clock.
    public static let defaultClockSkewLimit: TimeInterval = 900
    /// How much of a malformed header an error message repeats back: enough to recognise it,
    /// not enough to turn the error into an amplifier for whatever was sent.
    static let echoLimit = 256

    // MARK: - The Authorization header

    /// The three parts of `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
    public struct Authorization: Sendable, Hashable {
        /// The credential's access key id, as the client sent it; looked up to find the signing key.
        public var accessKeyID: String
        /// The credential scope's date, `yyyyMMdd`; it must match X-Amz-Date's day (`checkScope`).
        public var date: String
        /// The credential scope's region; kmsd accepts only the regions it serves (`ServiceScope.regions`).
        public var region: String
        /// The credential scope's service; kmsd accepts only `kms`.
        public var service: String
        /// Lowercase, sorted, without duplicates, and always including `host`.
        public var signedHeaders: [String]
        /// The 32 bytes of the HMAC-SHA256 the client computed.
        public var signature: [UInt8]

        /// An Authorization from its parts, unchecked; `parseAuthorization(_:)` is the checked way in.
        public init(
            accessKeyID: String, date: String, region: String, service: String, signedHeaders: [String],
            signature: [UInt8]
        ) {
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
        // Parsed over UTF-8 bytes: every delimiter is ASCII, so byte positions are valid String
        // indices, and byte comparison is what a signature check means (Character iteration,
        // with its grapheme breaking, was 7 % of kmsd's time per AWS JSON request).
        let trimmed = Self.trimmingBlanks(Substring(header))
        let bytes = trimmed.utf8
        let algorithmEnd = bytes.firstIndex(where: { $0 == blank || $0 == tab }) ?? bytes.endIndex
        let algorithmName = trimmed[..<algorithmEnd]
        guard algorithmName.utf8.elementsEqual(algorithm.utf8) else {
            throw KMSError(.incompleteSignature, "Unsupported AWS 'algorithm': '\(echo(String(algorithmName)))'.")
        }

        var credentialField: Substring?
        var signedHeadersField: Substring?
        var signatureField: Substring?
        var start = algorithmEnd
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
            defer { start = end < bytes.endIndex ? bytes.index(after: end) : end }
            let part = Self.trimmingBlanks(trimmed[start..<end])
            if part.isEmpty { continue }
            guard let equals = part.utf8.firstIndex(of: UInt8(ascii: "=")) else {
                throw KMSError(
                    .incompleteSignature,
                    "'\(echo(part))' not a valid key=value pair (missing equal-sign) in Authorization header: "
                        + "'\(echo(header))'."
                )
            }
            let key = part.utf8[..<equals]
            let value = part[part.utf8.index(after: equals)...]
            if key.elementsEqual("Credential".utf8) {
                guard credentialField == nil else { throw Self.repeated("Credential", header) }
                credentialField = value
            } else if key.elementsEqual("SignedHeaders".utf8) {
                guard signedHeadersField == nil else { throw Self.repeated("SignedHeaders", header) }
                signedHeadersField = value
            } else if key.elementsEqual("Signature".utf8) {
                guard signatureField == nil else { throw Self.repeated("Signature", header) }
                signatureField = value
            }
        }

        guard let credential = credentialField, let signedHeadersText = signedHeadersField,
            let signatureText = signatureField
        else {
            let fields =
                [("Credential", credentialField), ("Signature", signatureField)]
                + [("SignedHeaders", signedHeadersField)]
            let sentences = fields.filter { $0.1 == nil }.map { "Authorization header requires '\($0.0)' parameter." }
            throw KMSError(.incompleteSignature, (sentences + ["Authorization=\(echo(header))"]).joined(separator: " "))
        }

        let scope = credential.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .map { Substring($0) }
        guard scope.count == 5, !scope[0].isEmpty, !scope[2].isEmpty, !scope[3].isEmpty else {
            throw KMSError(
                .incompleteSignature,
                "Credential should be of the form '<access key id>/<yyyyMMdd>/<region>/<service>/aws4_request', not "
                    + "'\(echo(String(credential)))'."
            )
        }
        guard scope[4].utf8.elementsEqual(terminator.utf8) else {
            throw KMSError(
                .incompleteSignature,
                "Credential should be scoped with a valid terminator: 'aws4_request', not '\(echo(String(scope[4])))'.")
        }
        guard scope[1].utf8.count == 8, scope[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw KMSError(
                .incompleteSignature,
                "Credential should be scoped to a date in the form yyyyMMdd, not '\(echo(String(scope[1])))'.")
        }

        let signedHeaders = try parseSignedHeaders(signedHeadersText)

        guard let signature = Hex.decode(signatureText), signature.count == SHA256.byteCount else {
            throw KMSError(
                .incompleteSignature,
                "Signature should be \(SHA256.byteCount * 2) hexadecimal characters, not "
                    + "'\(echo(String(signatureText)))'."
            )
        }

        return Authorization(
            accessKeyID: String(scope[0]), date: String(scope[1]), region: String(scope[2]), service: String(scope[3]),
            signedHeaders: signedHeaders, signature: signature
        )
    }

    private static let blank = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")

    private static func repeated(_ key: String, _ header: String) -> KMSError {
        KMSError(
            .incompleteSignature,
            "Authorization header has more than one '\(key)' parameter. Authorization=\(echo(header))")
    }

    /// `text` without the spaces and tabs around it (HTTP's optional whitespace), by bytes: both
    /// are ASCII, so the byte positions found are String indices.
    static func trimmingBlanks(_ text: Substring) -> Substring {
        let bytes = text.utf8
        guard let first = bytes.firstIndex(where: { $0 != blank && $0 != tab }),
            let last = bytes.lastIndex(where: { $0 != blank && $0 != tab })
        else { return text[text.endIndex...] }
        return text[first...last]
    }

    /// A signer emits the list lowercase and sorted; anything else means we would canonicalize
    /// differently from the client (or that headers were smuggled in), so it is refused here.
    /// `host` is required as AWS requires it: without it a signature could be replayed
    /// against another endpoint.
    static func parseSignedHeaders(_ text: Substring) throws(KMSError) -> [String] {
        let names = text.utf8.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map {
            String(Substring($0))
        }
        let wellFormed = names.allSatisfy { name in !name.isEmpty && name.utf8.allSatisfy(isLowercaseTokenByte) }
        let sorted = zip(names, names.dropFirst()).allSatisfy { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard wellFormed, sorted else {
            throw KMSError(
                .incompleteSignature,
                "SignedHeaders should be the signed header names, lowercase, sorted and separated by ';', not "
                    + "'\(echo(String(text)))'."
            )
        }
        guard names.contains("host") else {
            throw KMSError(
                .incompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        }
        return names
    }

    /// An RFC 9110 token character that is not an uppercase letter.
    static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Checks the credential scope against the request and this server, with AWS's messages
    /// (InvalidSignatureException). The date must be X-Amz-Date's day: the signing key is
    /// derived from the scope's date, so a mismatch would let an old key sign a new request.
    public static func checkScope(_ authorization: Authorization, amzDate: String, region: String, service: String)
        throws(KMSError)
    {
        let day = String(amzDate.prefix(8))
        guard authorization.date == day else {
            throw KMSError(
                .invalidClientSignature,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                    + "'\(echo(authorization.date))' != '\(echo(day))', from '\(echo(amzDate))'."
            )
        }
        guard authorization.region == region else {
            throw KMSError(
                .invalidClientSignature,
                "Credential should be scoped to a valid region, not '\(echo(authorization.region))'.")
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

    /// The signature the client should have sent (HMAC-SHA256 by MessageAuthentication, one per
    /// AWS JSON request).
    public static func signature(signingKey: SymmetricKey, stringToSign: String) -> [UInt8] {
        MessageAuthentication.mac(.hmacSha256, key: signingKey, message: Array(stringToSign.utf8))
    }

    /// Checks a client's signature with a constant-time comparison (CRYPTO_memcmp), so the time
    /// taken says nothing about how many leading bytes were right.
    public static func verify(signature: [UInt8], signingKey: SymmetricKey, stringToSign: String) -> Bool {
        MessageAuthentication.verify(
            .hmacSha256, key: signingKey, message: Array(stringToSign.utf8), mac: signature)
    }

    // MARK: - Clock skew

    /// Refuses a request signed too long ago or too far ahead, with AWS's wording, so a
    /// captured request cannot be replayed after the window closes.
    public static func checkClockSkew(requestDate: Date, now: Date, limit: TimeInterval = defaultClockSkewLimit)
        throws(KMSError)
    {
        let window = limit.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(limit / 60)) min." : "\(Int(limit)) sec."
        let earliest = now.addingTimeInterval(-limit)
        let latest = now.addingTimeInterval(limit)
        if requestDate < earliest {
            throw KMSError(
                .invalidClientSignature,
                "Signature expired: \(formatAmzDate(requestDate)) is now earlier than \(formatAmzDate(earliest)) "
                    + "(\(formatAmzDate(now)) - \(window))"
            )
        }
        if requestDate > latest {
            throw KMSError(
                .invalidClientSignature,
                "Signature not yet current: \(formatAmzDate(requestDate)) is still later than "
                    + "\(formatAmzDate(latest)) (\(formatAmzDate(now)) + \(window))"
            )
        }
    }

    // MARK: - Hashing

    /// The payload hash of the canonical request, and the digest line of the string to sign.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        var hasher = SHA256()
        let hashed: Void? = bytes.withContiguousStorageIfAvailable {
            hasher.update(bufferPointer: UnsafeRawBufferPointer($0))
        }
        if hashed == nil { hasher.update(data: Array(bytes)) }
        return Hex.encode(hasher.finalize())
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
