/// A failed call: the AWS exception name the service answered with (or a local one for link
/// failures: ConnectionClosedException, RequestTimeoutException, ...), and its message.
public struct KMSClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var retryable: Bool

    public init(code: String, message: String, retryable: Bool) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    public var description: String { "\(code): \(message)" }
}
