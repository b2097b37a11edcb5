import KMSCrypto
import KMSDomain

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SigV4 {
    /// The host names an endpoint answers to. A SigV4 signature covers the Host header, so
    /// refusing every other host is what keeps a request signed for another endpoint (another
    /// deployment sharing an access key, a test instance, AWS itself) from being replayed here.
    ///
    /// An entry is `NAME`, `NAME:PORT`, `[IPv6]` or `[IPv6]:PORT`; `NAME` may start with `*.`
    /// to stand for one more label (as a certificate's wildcard does), and `*` alone accepts any
    /// host (for a proxy that rewrites Host; it gives up the check). An entry without a port
    /// accepts any port, since the port a client dials (a load balancer's, a port forward's)
    /// need not be the one kmsd listens on. Names compare case-insensitively, without a
    /// trailing dot, and IP addresses in canonical form (`::0:1` is `::1`).
    public struct HostNames: Sendable, Hashable, CustomStringConvertible {
        /// One accepted host, parsed from `NAME`, `NAME:PORT`, `[IPv6]` or `[IPv6]:PORT`, optionally `*.`-prefixed.
        public struct Entry: Sendable, Hashable {
            /// Lowercase, without a trailing dot; an IP address in canonical form; for a
            /// wildcard entry, the part after `*.`.
            public let name: String
            /// Written `*.NAME`: matches a host of exactly one more label before `name`, never an IP address.
            public let wildcard: Bool
            /// The only port accepted; nil accepts any.
            public let port: Int?
        }

        /// The entries in the order given, without duplicates; `*` is not among them but sets `anyHost`.
        public let entries: [Entry]
        /// A `*` entry was given: every well-formed Host is accepted.
        public let anyHost: Bool

        /// Parses entries as `--aws-json-host` takes them; throws a ValidationException naming
        /// the first that is not a host name, an address or a `*.` pattern.
        public init(_ specifications: [String]) throws(KMSError) {
            var entries: [Entry] = []
            var anyHost = false
            for specification in specifications {
                if specification == "*" {
                    anyHost = true
                    continue
                }
                var text = Substring(specification)
                let wildcard = text.hasPrefix("*.")
                if wildcard { text = text.dropFirst(2) }
                guard let (name, port) = Self.split(text), !(wildcard && Self.isIPAddress(name)) else {
                    throw KMSError(
                        .validation, "'\(echo(specification))' is not NAME, NAME:PORT, [IPv6]:PORT or *.DOMAIN")
                }
                let entry = Entry(name: name, wildcard: wildcard, port: port)
                if !entries.contains(entry) { entries.append(entry) }
            }
            self.entries = entries
            self.anyHost = anyHost
        }

        /// True when a request whose Host header is `host` may be served. `defaultPort` is the
        /// port a Host without one means (443 over TLS, 80 without).
        public func allows(host: String, defaultPort: Int) -> Bool {
            guard let (name, port) = Self.split(Substring(host)) else { return false }
            if self.anyHost { return true }
            let effectivePort = port ?? defaultPort
            return self.entries.contains { entry in
                if let wanted = entry.port, wanted != effectivePort { return false }
                guard entry.wildcard else { return entry.name == name }
                guard let dot = name.firstIndex(of: "."), dot != name.startIndex, !Self.isIPAddress(name) else {
                    return false
                }
                return name[name.index(after: dot)...] == entry.name
            }
        }

        /// The entries as `--aws-json-host` takes them, comma-separated, for logs.
        public var description: String {
            var names = self.entries.map { entry in
                var name = entry.name.contains(":") ? "[\(entry.name)]" : entry.name
                if entry.wildcard { name = "*." + name }
                return entry.port.map { "\(name):\($0)" } ?? name
            }
            if self.anyHost { names.append("*") }
            return names.joined(separator: ", ")
        }

        /// `host[:port]` as RFC 9110 writes a Host header, to its canonical name and port; nil for
        /// anything else (a raw IPv6 address without brackets, a user-info part, spaces, an
        /// empty name, a port out of range).
        static func split(_ text: Substring) -> (name: String, port: Int?)? {
            var name: Substring
            var portText: Substring?
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else { return nil }
                name = text[text.index(after: text.startIndex)..<close]
                let rest = text[text.index(after: close)...]
                if !rest.isEmpty {
                    guard rest.hasPrefix(":") else { return nil }
                    portText = rest.dropFirst()
                }
                guard let canonical = canonicalIP(String(name)), canonical.contains(":") else { return nil }
                name = Substring(canonical)
            } else {
                // By bytes: a Host header is ASCII (checked below), and counting Characters
                // (grapheme breaking) was most of this check's cost on every AWS JSON request.
                let colons = text.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: ":") ? 1 : 0) }
                guard colons <= 1 else { return nil }
                if let colon = text.utf8.firstIndex(of: UInt8(ascii: ":")) {
                    name = text[..<colon]
                    portText = text[text.index(after: colon)...]
                } else {
                    name = text
                }
                if name.hasSuffix(".") { name = name.dropLast() }
                guard !name.isEmpty, name.utf8.count <= 253, name.utf8.allSatisfy(isHostNameByte) else { return nil }
                name = Substring(canonicalIP(String(name)) ?? name.lowercased())
            }
            var port: Int?
            if let portText, !portText.isEmpty {
                guard portText.utf8.count <= 5, portText.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                    let value = Int(portText), (1...65535).contains(value)
                else { return nil }
                port = value
            }
            return (String(name), port)
        }

        static func isHostNameByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                return true
            default:
                return false
            }
        }

        static func isIPAddress(_ name: String) -> Bool { canonicalIP(name) != nil }

        /// An IPv4 or IPv6 address in the form inet_ntop writes it; nil for anything else.
        static func canonicalIP(_ text: String) -> String? {
            var v4 = in_addr()
            if inet_pton(AF_INET, text, &v4) == 1 {
                var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                guard inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count)) != nil else { return nil }
                return Self.text(buffer)
            }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, text, &v6) == 1 {
                var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                guard inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil else { return nil }
                return Self.text(buffer).lowercased()
            }
            return nil
        }

        private static func text(_ buffer: [CChar]) -> String {
            String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
