import NIOSSL

/// Mutual TLS's second check: the client certificate, already chained to the configured CA by
/// BoringSSL, must also carry one of the allowed names, as the spec requires ("MUST terminate
/// the TLS handshake if the client presents a certificate containing a different subject
/// name"). AWS KMS presents CN=`cks.kms.<region>.amazonaws.com`; AWS's own proxy compares the
/// DNS subject alternative names instead. Either matches here.
public struct XKSClientSubject: Sendable {
    /// The allowed names; `*` stands for exactly one whole label (`cks.kms.*.amazonaws.com`).
    public let patterns: [String]

    /// A check for `patterns`.
    public init(patterns: [String]) { self.patterns = patterns }

    /// Whether `certificate` carries an allowed name.
    public func allows(_ certificate: NIOSSLCertificate) -> Bool {
        self.allows(names: Self.names(of: certificate))
    }

    /// Whether one of `names` is allowed.
    public func allows(names: [String]) -> Bool {
        names.contains { name in self.patterns.contains { Self.matches(pattern: $0, name: name) } }
    }

    /// The subject's common names, then the DNS subject alternative names.
    public static func names(of certificate: NIOSSLCertificate) -> [String] {
        var names = ((try? certificate.toDERBytes()).map(DERSubject.commonNames) ?? [])
        for name in certificate._subjectAlternativeNames() where name.nameType == .dnsName {
            names.append(String(decoding: name.contents, as: UTF8.self))
        }
        return names
    }

    /// DNS names compare without regard to case; a `*` label matches one label of any text.
    static func matches(pattern: String, name: String) -> Bool {
        let patternLabels = pattern.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        let nameLabels = name.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        guard patternLabels.count == nameLabels.count else { return false }
        return zip(patternLabels, nameLabels).allSatisfy { pattern, label in
            pattern == "*" ? !label.isEmpty : pattern == label
        }
    }
}

/// Just enough DER to read a certificate's subject common names: NIOSSL keeps its own reader
/// internal, and the project links no X.509 library.
enum DERSubject {
    /// id-at-commonName, 2.5.4.3.
    static let commonNameOID: [UInt8] = [0x55, 0x04, 0x03]

    /// One element: its tag and where its contents are.
    struct Element {
        let tag: UInt8
        let contents: Range<Int>
        let end: Int
    }

    static func element(_ bytes: [UInt8], at start: Int, limit: Int) -> Element? {
        guard start + 2 <= limit else { return nil }
        let tag = bytes[start]
        var at = start + 1
        var length = Int(bytes[at])
        at += 1
        if length & 0x80 != 0 {
            let count = length & 0x7f
            guard (1...3).contains(count), at + count <= limit else { return nil }
            length = 0
            for byte in bytes[at..<(at + count)] { length = length << 8 | Int(byte) }
            at += count
        }
        guard at + length <= limit else { return nil }
        return Element(tag: tag, contents: at..<(at + length), end: at + length)
    }

    /// The elements inside `range`, in order; nil when they do not fill it exactly.
    static func children(_ bytes: [UInt8], _ range: Range<Int>) -> [Element]? {
        var out: [Element] = []
        var at = range.lowerBound
        while at < range.upperBound {
            guard let element = element(bytes, at: at, limit: range.upperBound) else { return nil }
            out.append(element)
            at = element.end
        }
        return out
    }

    /// Certificate → tbsCertificate → subject (the sixth field, counting the optional [0]
    /// version) → each attribute of type commonName whose value is a UTF8, Printable or IA5 string.
    static func commonNames(_ der: [UInt8]) -> [String] {
        guard let certificate = element(der, at: 0, limit: der.count), certificate.tag == 0x30,
            let tbs = children(der, certificate.contents)?.first, tbs.tag == 0x30,
            var fields = children(der, tbs.contents)
        else { return [] }
        if fields.first?.tag == 0xa0 { fields.removeFirst() }
        guard fields.count > 4, fields[4].tag == 0x30, let sets = children(der, fields[4].contents) else { return [] }
        var names: [String] = []
        for set in sets where set.tag == 0x31 {
            for attribute in children(der, set.contents) ?? [] where attribute.tag == 0x30 {
                guard let parts = children(der, attribute.contents), parts.count == 2, parts[0].tag == 0x06,
                    Array(der[parts[0].contents]) == commonNameOID, [0x0c, 0x13, 0x16].contains(parts[1].tag)
                else { continue }
                names.append(String(decoding: der[parts[1].contents], as: UTF8.self))
            }
        }
        return names
    }
}
