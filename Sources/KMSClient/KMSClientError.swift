import KMSRPC

/// A failed call: the AWS exception name the service answered with (or a local one for link
/// failures: ConnectionClosedException, RequestTimeoutException, ...), and its message.
public struct KMSClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The AWS exception name (e.g. "NotFoundException"), or a local one for failures that never reached kmsd.
    public var code: String
    /// What went wrong, for a person; kmsd's messages never carry key material or plaintext.
    public var message: String
    /// Whether trying again may succeed (throttling, a lost connection); `KMSClient.call` has already
    /// retried where that was safe.
    public var retryable: Bool

    /// A failure as the client reports it.
    public init(code: String, message: String, retryable: Bool) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    /// A failure as kmsd answered it, or as the RPC layer raised it for the link (a closed
    /// connection, a timeout): its code, message and retryability unchanged.
    public init(_ error: RPCError) {
        self.init(code: error.code, message: error.message, retryable: error.retryable)
    }

    /// "Code: message", as the aws CLI prints errors.
    public var description: String { "\(code): \(message)" }
}
