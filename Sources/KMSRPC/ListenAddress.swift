/// A listen address as kmsd's and kms-cryptod's flags take it.
public enum ListenAddress {
    /// Splits "host:port" (or "[v6]:port"); an empty host is every IPv4 address. Nil when the
    /// port is missing or out of range.
    public static func split(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}
