import NIOSSL

/// Which principal a client certificate acts as, by its URI SANs (SPIFFE ids): patterns are
/// either exact URIs or end in `*`, matching any URI that starts with what comes before it.
///
/// The answer never depends on the order of a dictionary or of the certificate's SANs: an exact
/// match wins over any pattern, then the longest matching pattern wins (the most specific rule,
/// so `spiffe://c/ns/payments/sa/admin` can map elsewhere than `spiffe://c/ns/payments/*`), and
/// two patterns of one length matching different SANs are ordered by their text.
public struct RPCCertificatePrincipals: Sendable {
    /// URI or `prefix*` pattern → principal ARN.
    public let mapping: [String: String]

    /// Patterns and their principals; the order of `mapping` never matters (see above).
    public init(_ mapping: [String: String]) {
        self.mapping = mapping
    }

    /// The principal for a certificate with these URI SANs, or nil when no pattern matches.
    public func principal(forURIs uris: [String]) -> String? {
        var best: (exact: Bool, length: Int, pattern: String)?
        for uri in uris {
            if self.mapping[uri] != nil {
                let candidate = (exact: true, length: uri.utf8.count, pattern: uri)
                if best.map({ Self.precedes(candidate, $0) }) ?? true { best = candidate }
                continue
            }
            for pattern in self.mapping.keys where pattern.hasSuffix("*") && uri.hasPrefix(pattern.dropLast()) {
                let candidate = (exact: false, length: pattern.utf8.count, pattern: pattern)
                if best.map({ Self.precedes(candidate, $0) }) ?? true { best = candidate }
            }
        }
        return best.flatMap { self.mapping[$0.pattern] }
    }

    /// The principal for a verified certificate, by its URI SANs.
    public func principal(for certificate: NIOSSLCertificate) -> String? {
        guard !self.mapping.isEmpty else { return nil }
        let uris = certificate._subjectAlternativeNames().filter { $0.nameType == .uri }.map {
            String(decoding: $0.contents, as: UTF8.self)
        }
        return self.principal(forURIs: uris)
    }

    private static func precedes(
        _ a: (exact: Bool, length: Int, pattern: String), _ b: (exact: Bool, length: Int, pattern: String)
    ) -> Bool {
        if a.exact != b.exact { return a.exact }
        if a.length != b.length { return a.length > b.length }
        return Array(a.pattern.utf8).lexicographicallyPrecedes(Array(b.pattern.utf8))
    }
}
