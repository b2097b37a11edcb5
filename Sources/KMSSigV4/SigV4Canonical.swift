import KMSCrypto
import KMSDomain

extension SigV4 {
    /// The canonical request of the SigV4 specification, rebuilt on the receiving side.
    ///
    /// Every input is what arrived on the wire, so that the text comes out byte for byte as the
    /// client (botocore, the AWS SDKs) built it before signing:
    ///
    /// - `path` is the request target's path as sent, still percent-encoded, without `?query`.
    ///   Empty and `.` segments are dropped and `..` removes its parent (AWS normalizes paths for
    ///   every service but S3), then each segment is percent-encoded once more. Encoding the
    ///   already-encoded wire form is what the specification's "encode twice" means for services
    ///   other than S3, and it is what botocore does. `%2E%2E` is not a dot segment: clients do
    ///   not decode before normalizing, so neither may we.
    /// - `query` is the raw query string without `?` (empty when there is none). Names and
    ///   values are percent-decoded and encoded again with the RFC 3986 unreserved set, so a
    ///   client that encoded a character we would not have (or left a raw one) still matches.
    ///   `+` is a literal plus, not a space: SigV4 knows nothing of form encoding.
    /// - `headers` are all the request's headers in order of arrival; only those named in
    ///   `signedHeaders` are used. `signedHeaders` is taken as given: `parseAuthorization`
    ///   has already insisted that it is lowercase, sorted and free of duplicates, and the
    ///   client signed exactly that list. A signed header the request lacks canonicalizes with
    ///   an empty value, and the signature then fails as it should.
    public static func canonicalRequest(
        method: String,
        path: String,
        query: String,
        headers: [(name: String, value: String)],
        signedHeaders: [String],
        payloadSHA256Hex: String
    ) -> String {
        // Built as bytes and made a string once: appending each part's own string cost an
        // allocation and a copy per part on every AWS JSON request.
        var out: [UInt8] = []
        out.reserveCapacity(512)
        method.withUTF8Bytes { out.append(contentsOf: $0) }
        out.append(newline)
        canonicalURI(path, into: &out)
        out.append(newline)
        canonicalQueryString(query, into: &out)
        out.append(newline)
        canonicalHeaders(headers, signedHeaders: signedHeaders, into: &out)
        out.append(newline)
        for (index, name) in signedHeaders.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ";")) }
            name.withUTF8Bytes { out.append(contentsOf: $0) }
        }
        out.append(newline)
        payloadSHA256Hex.withUTF8Bytes { out.append(contentsOf: $0) }
        return String(decoding: out, as: UTF8.self)
    }

    private static let newline = UInt8(ascii: "\n")

    /// The path line: normalized as botocore's `remove_dot_segments` does (consecutive slashes
    /// collapse too; a trailing slash survives unless nothing is left but the root).
    static func canonicalURI(_ path: String, into out: inout [UInt8]) {
        let bytes = Array(path.utf8)
        var segments: [ArraySlice<UInt8>] = []
        for segment in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if segment.elementsEqual([UInt8(ascii: ".")]) { continue }
            if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if !segments.isEmpty { segments.removeLast() }
                continue
            }
            segments.append(segment)
        }
        if segments.isEmpty {
            out.append(UInt8(ascii: "/"))
            return
        }
        for segment in segments {
            out.append(UInt8(ascii: "/"))
            percentEncode(segment, into: &out)
        }
        if bytes.last == UInt8(ascii: "/") { out.append(UInt8(ascii: "/")) }
    }

    /// The query line: pairs sorted by encoded name, then encoded value, as bytes (a locale or
    /// Unicode-aware comparison would order `a` and `B` differently from the client).
    static func canonicalQueryString(_ query: String, into out: inout [UInt8]) {
        guard !query.isEmpty else { return }
        let bytes = Array(query.utf8)
        var pairs: [(name: [UInt8], value: [UInt8])] = []
        for parameter in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let name: ArraySlice<UInt8>
            let value: ArraySlice<UInt8>
            if let equals = parameter.firstIndex(of: UInt8(ascii: "=")) {
                name = parameter[..<equals]
                value = parameter[(equals + 1)...]
            } else {
                name = parameter
                value = []
            }
            var encodedName: [UInt8] = []
            var encodedValue: [UInt8] = []
            percentEncode(percentDecode(name), into: &encodedName)
            percentEncode(percentDecode(value), into: &encodedValue)
            pairs.append((encodedName, encodedValue))
        }
        pairs.sort { a, b in
            a.name == b.name ? a.value.lexicographicallyPrecedes(b.value) : a.name.lexicographicallyPrecedes(b.name)
        }
        for (index, pair) in pairs.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            out.append(contentsOf: pair.name)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: pair.value)
        }
    }

    /// One `name:value\n` line per signed header. Repeated headers join with `,` in order of
    /// arrival (never sorted: `value4,value1` signs differently from `value1,value4`). Names
    /// compare as ASCII without case: signed names are lowercase token bytes (`parseSignedHeaders`),
    /// and Unicode case mapping would let a non-ASCII name (the Kelvin sign's "K") pass for one.
    /// Built in bytes, once per AWS JSON request.
    static func canonicalHeaders(
        _ headers: [(name: String, value: String)], signedHeaders: [String], into out: inout [UInt8]
    ) {
        for name in signedHeaders {
            name.withUTF8Bytes { out.append(contentsOf: $0) }
            out.append(UInt8(ascii: ":"))
            var first = true
            for header in headers where ASCIICase.equal(header.name, lowercase: name) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                trimAll(header.value, into: &out)
            }
            out.append(UInt8(ascii: "\n"))
        }
    }

    /// The specification's Trimall: no leading or trailing whitespace, and every run of
    /// whitespace inside (a folded line's CRLF and tab included) one space. Quotes give no
    /// protection: `"a   b"` becomes `"a b"`, as every SDK signs it.
    static func trimAll(_ value: String, into out: inout [UInt8]) {
        let start = out.count
        var pendingSpace = false
        value.withUTF8Bytes { bytes in
            for byte in bytes {
                switch byte {
                case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D:
                    pendingSpace = out.count > start
                default:
                    if pendingSpace { out.append(0x20) }
                    pendingSpace = false
                    out.append(byte)
                }
            }
        }
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// RFC 3986 encoding with uppercase hex digits, as the specification requires.
    static func percentEncode(_ bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
        let digits = Array("0123456789ABCDEF".utf8)
        for byte in bytes {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
    }

    /// `%XY` to its byte; a `%` not followed by two hex digits stays a literal `%`.
    static func percentDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), bytes.endIndex - index >= 3,
                let high = Hex.value(ofDigit: bytes[index + 1]), let low = Hex.value(ofDigit: bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }
}
