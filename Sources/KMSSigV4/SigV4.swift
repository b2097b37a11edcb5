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
        // Parsed over the header's UTF-8 bytes at integer positions: every delimiter is ASCII, so
        // the parts cut out are whole characters, and byte comparison is what a signature check
        // means. (Character iteration, with its grapheme breaking, was 7 % of kmsd's time per AWS
        // JSON request; the UTF-8 view's generic index after it, 4 %.)
        let bytes = Array(header.utf8)
        let text = { (part: ArraySlice<UInt8>) in String(decoding: part, as: UTF8.self) }
        let whole = Self.trimmingBlanks(bytes, 0..<bytes.count)
        let algorithmEnd = bytes[whole].firstIndex(where: { $0 == blank || $0 == tab }) ?? whole.upperBound
        guard bytes[whole.lowerBound..<algorithmEnd].elementsEqual(Self.algorithmBytes) else {
            throw KMSError(
                .incompleteSignature,
                "Unsupported AWS 'algorithm': '\(echo(text(bytes[whole.lowerBound..<algorithmEnd])))'.")
        }

        var credentialField: Range<Int>?
        var signedHeadersField: Range<Int>?
        var signatureField: Range<Int>?
        var start = algorithmEnd
        while start < whole.upperBound {
            let end = bytes[start..<whole.upperBound].firstIndex(of: UInt8(ascii: ",")) ?? whole.upperBound
            defer { start = end < whole.upperBound ? end + 1 : end }
            let part = Self.trimmingBlanks(bytes, start..<end)
            if part.isEmpty { continue }
            guard let equals = bytes[part].firstIndex(of: UInt8(ascii: "=")) else {
                throw KMSError(
                    .incompleteSignature,
                    "'\(echo(text(bytes[part])))' not a valid key=value pair (missing equal-sign) in "
                        + "Authorization header: '\(echo(header))'."
                )
            }
            let key = bytes[part.lowerBound..<equals]
            let value = (equals + 1)..<part.upperBound
            if key.elementsEqual(Self.credentialKey) {
                guard credentialField == nil else { throw Self.repeated("Credential", header) }
                credentialField = value
            } else if key.elementsEqual(Self.signedHeadersKey) {
                guard signedHeadersField == nil else { throw Self.repeated("SignedHeaders", header) }
                signedHeadersField = value
            } else if key.elementsEqual(Self.signatureKey) {
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

        let scope = Self.parts(of: bytes[credential], separatedBy: UInt8(ascii: "/"))
        guard scope.count == 5, !scope[0].isEmpty, !scope[2].isEmpty, !scope[3].isEmpty else {
            throw KMSError(
                .incompleteSignature,
                "Credential should be of the form '<access key id>/<yyyyMMdd>/<region>/<service>/aws4_request', not "
                    + "'\(echo(text(bytes[credential])))'."
            )
        }
        guard scope[4].elementsEqual(Self.terminatorBytes) else {
            throw KMSError(
                .incompleteSignature,
                "Credential should be scoped with a valid terminator: 'aws4_request', not "
                    + "'\(echo(text(scope[4])))'.")
        }
        guard scope[1].count == 8, scope[1].allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw KMSError(
                .incompleteSignature,
                "Credential should be scoped to a date in the form yyyyMMdd, not '\(echo(text(scope[1])))'.")
        }

        let signedHeaders = try parseSignedHeaders(bytes[signedHeadersText])

        guard let signature = Hex.decode(digits: bytes[signatureText]), signature.count == SHA256.byteCount else {
            throw KMSError(
                .incompleteSignature,
                "Signature should be \(SHA256.byteCount * 2) hexadecimal characters, not "
                    + "'\(echo(text(bytes[signatureText])))'."
            )
        }

        return Authorization(
            accessKeyID: text(scope[0]), date: text(scope[1]), region: text(scope[2]), service: text(scope[3]),
            signedHeaders: signedHeaders, signature: signature
        )
    }

    private static let algorithmBytes = Array(algorithm.utf8)
    private static let terminatorBytes = Array(terminator.utf8)
    private static let credentialKey = Array("Credential".utf8)
    private static let signedHeadersKey = Array("SignedHeaders".utf8)
    private static let signatureKey = Array("Signature".utf8)
    private static let hostName = Array("host".utf8)
    private static let blank = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")

    private static func repeated(_ key: String, _ header: String) -> KMSError {
        KMSError(
            .incompleteSignature,
            "Authorization header has more than one '\(key)' parameter. Authorization=\(echo(header))")
    }

    /// `range` of `bytes` without the spaces and tabs around it (HTTP's optional whitespace).
    static func trimmingBlanks(_ bytes: [UInt8], _ range: Range<Int>) -> Range<Int> {
        guard let first = bytes[range].firstIndex(where: { $0 != blank && $0 != tab }),
            let last = bytes[range].lastIndex(where: { $0 != blank && $0 != tab })
        else { return range.upperBound..<range.upperBound }
        return first..<(last + 1)
    }

    /// The parts of `text` between separators, empty ones included (a split without the
    /// standard library's generic one, which showed per request).
    static func parts(of text: ArraySlice<UInt8>, separatedBy separator: UInt8) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var start = text.startIndex
        for index in text.indices where text[index] == separator {
            parts.append(text[start..<index])
            start = index + 1
        }
        parts.append(text[start..<text.endIndex])
        return parts
    }

    /// A signer emits the list lowercase and sorted; anything else means we would canonicalize
    /// differently from the client (or that headers were smuggled in), so it is refused here.
    /// `host` is required as AWS requires it: without it a signature could be replayed
    /// against another endpoint.
    static func parseSignedHeaders(_ text: ArraySlice<UInt8>) throws(KMSError) -> [String] {
        let names = Self.parts(of: text, separatedBy: UInt8(ascii: ";"))
        let wellFormed = names.allSatisfy { name in !name.isEmpty && name.allSatisfy(isLowercaseTokenByte) }
        let sorted = zip(names, names.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) }
        guard wellFormed, sorted else {
            throw KMSError(
                .incompleteSignature,
                "SignedHeaders should be the signed header names, lowercase, sorted and separated by ';', not "
                    + "'\(echo(String(decoding: text, as: UTF8.self)))'."
            )
        }
        guard names.contains(where: { $0.elementsEqual(Self.hostName) }) else {
            throw KMSError(
                .incompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        }
        return names.map { String(decoding: $0, as: UTF8.self) }
    }

    /// An RFC 9110 token character that is not an uppercase letter.
    static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
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
        // Made only for a refusal: formatting it cost every request an allocation.
        var window: String {
            limit.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(limit / 60)) min." : "\(Int(limit)) sec."
        }
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
