import KMSCrypto
import KMSDomain

extension SigV4 {
    /// Headers that change what a request means, and so must be signed whenever they are sent:
    /// `host` (which endpoint), `content-type` (how the body is read) and every `x-amz-*`
    /// (`x-amz-target` names the operation: unsigned, a captured ListKeys could be replayed as
    /// ScheduleKeyDeletion within the clock-skew window).
    public static func mustBeSigned(_ lowercaseName: String) -> Bool {
        lowercaseName == "host" || lowercaseName == "content-type"
            || lowercaseName.withUTF8Bytes { $0.starts(with: Self.amzPrefix) }
    }

    private static let amzPrefix = Array("x-amz-".utf8)
    /// How many header names, or signed names, are looked up by scanning rather than hashing.
    static let linearLimit = 16

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
        // A request has a dozen headers or so and signs a handful: scanning those arrays costs
        // less than hashing every name into a dictionary and a set, as this did for every request.
        // Past `linearLimit` names the lookups are hashed, so that a request with hundreds of
        // headers or signed names costs time linear in them, not their product.
        let names = headers.map { ASCIICase.lowered($0.name) }
        let counts = names.count > Self.linearLimit ? Dictionary(names.map { ($0, 1) }, uniquingKeysWith: +) : nil
        let signed = signedHeaders.count > Self.linearLimit ? Set(signedHeaders) : nil
        var repeated: String?
        var unsigned: [String] = []
        for index in names.indices {
            let name = names[index]
            guard name == "authorization" || mustBeSigned(name) else { continue }
            let isRepeated = counts.map { $0[name, default: 0] > 1 } ?? names[(index + 1)...].contains(name)
            if isRepeated, repeated.map({ name < $0 }) ?? true { repeated = name }
            let isSigned = signed?.contains(name) ?? signedHeaders.contains(name)
            if name != "authorization", !isSigned { unsigned.append(name) }
        }
        if let name = repeated {
            throw KMSError(
                .incompleteSignature, "The request has more than one '\(echo(name))' header; it must have one.")
        }
        if !unsigned.isEmpty {
            throw KMSError(
                .incompleteSignature,
                "There were headers present in the request which were not signed: "
                    + "\(echo(Set(unsigned).sorted().joined(separator: ", "))). Sign every x-amz-* header, Host and "
                    + "Content-Type."
            )
        }
        let isPresent = { (name: String) in counts.map { $0[name] != nil } ?? names.contains(name) }
        if let absent = signedHeaders.first(where: { !isPresent($0) }) {
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
