import NIOSSL
import X509

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

    /// The subject's common names, then the DNS subject alternative names (none for a
    /// certificate X509 cannot read: nothing is allowed of it).
    public static func names(of certificate: NIOSSLCertificate) -> [String] {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return []
        }
        var names: [String] = []
        for rdn in parsed.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                if let name = String(attribute.value) { names.append(name) }
            }
        }
        if let alternatives = try? parsed.extensions.subjectAlternativeNames {
            for name in alternatives {
                if case .dnsName(let dns) = name { names.append(dns) }
            }
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
