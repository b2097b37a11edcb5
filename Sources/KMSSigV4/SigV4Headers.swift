import KMSCrypto
import KMSDomain

extension SigV4 {
    /// Headers that change what a request means, and so must be signed whenever they are sent:
    /// `host` (which endpoint), `content-type` (how the body is read) and every `x-amz-*`
    /// (`x-amz-target` names the operation: unsigned, a captured ListKeys could be replayed as
    /// ScheduleKeyDeletion within the clock-skew window).
    public static func mustBeSigned(_ lowercaseName: String) -> Bool {
        lowercaseName == "host" || lowercaseName == "content-type" || lowercaseName.hasPrefix("x-amz-")
    }

    /// Checks that the signature covers the request as it will be read, before any key is
    /// looked up (IncompleteSignatureException, with AWS's wording where it has one):
    ///
    /// - each header of `mustBeSigned`, and `authorization`, appears at most once. Repeated
    ///   values are joined into one canonical line while the server reads only one of them, so
    ///   a repeat would let the signed and the served request differ;
    /// - every such header present is among `signedHeaders`;
    /// - every signed header is present (a signer lists only headers it sends).
    public static func checkSignedHeaders(_ headers: [(name: String, value: String)], signedHeaders: [String])
        throws(KMSError)
    {
        var counts: [String: Int] = [:]
        for header in headers { counts[ASCIICase.lowered(header.name), default: 0] += 1 }
        let repeated = counts.filter { name, count in count > 1 && (name == "authorization" || mustBeSigned(name)) }
            .keys.sorted()
        if let name = repeated.first {
            throw KMSError(
                .incompleteSignature, "The request has more than one '\(echo(name))' header; it must have one.")
        }
        let signed = Set(signedHeaders)
        let unsigned = counts.keys.filter { mustBeSigned($0) && !signed.contains($0) }.sorted()
        if !unsigned.isEmpty {
            throw KMSError(
                .incompleteSignature,
                "There were headers present in the request which were not signed: "
                    + "\(echo(unsigned.joined(separator: ", "))). Sign every x-amz-* header, Host and Content-Type."
            )
        }
        if let absent = signedHeaders.first(where: { counts[$0] == nil }) {
            throw KMSError(
                .incompleteSignature,
                "'\(echo(absent))' is named as a SignedHeader, but it does not exist in the HTTP request.")
        }
    }

    /// Checks `x-amz-content-sha256` when the request has one: it must be the lowercase hex
    /// SHA-256 of the body (which the canonical request covers in any case). UNSIGNED-PAYLOAD
    /// and the streaming forms are S3's; a KMS request always signs its body.
    public static func checkContentSHA256(_ declared: String?, bodySHA256Hex: String) throws(KMSError) {
        guard let declared, declared != bodySHA256Hex else { return }
        if declared == "UNSIGNED-PAYLOAD" || declared.hasPrefix("STREAMING-") {
            throw KMSError(
                .incompleteSignature,
                "x-amz-content-sha256 '\(echo(declared))' is not accepted: requests to this service sign their body.")
        }
        throw KMSError(
            .invalidClientSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
    }
}
