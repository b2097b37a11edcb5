/// One HTTP request as the proxy received it: what SigV4 signs and what the API reads.
public struct XKSProxyRequest: Sendable {
    /// `POST`, or whatever was sent.
    public var method: String
    /// The request target as sent (path, and query if any), still percent-encoded.
    public var uri: String
    /// Every header, in order of arrival.
    public var headers: [(name: String, value: String)]
    /// The whole body (at most `XKSLimits.maxRequestBodyBytes`, the handler saw to that).
    public var body: [UInt8]

    /// A request from its parts.
    public init(method: String, uri: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }

    /// The value of the one header called `name` (any case); nil when absent or repeated.
    func header(_ name: String) -> String? {
        let values = self.headers.filter { $0.name.lowercased() == name }
        return values.count == 1 ? values[0].value : nil
    }

    /// The path, without any query.
    var path: String { self.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? self.uri }
    /// The query, without `?`.
    var query: String {
        guard let mark = self.uri.firstIndex(of: "?") else { return "" }
        return String(self.uri[self.uri.index(after: mark)...])
    }
}
