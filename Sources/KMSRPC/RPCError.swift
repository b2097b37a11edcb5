/// An error carried in a response envelope, or raised locally by the RPC layer.
///
/// `code` is an AWS KMS exception name (`NotFoundException`, `InvalidCiphertextException`, ...)
/// or, for failures of the link itself, one of the codes below. The message says what is wrong
/// and must never contain key material, a plaintext or a secret: it crosses process boundaries.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The AWS exception name, or one of the link's codes below; clients branch on it.
    public var code: String
    /// What is wrong, for a person; never key material, plaintext or a secret.
    public var message: String
    /// True when sending the same request again later may succeed.
    public var retryable: Bool

    /// An error to answer with or throw; not retryable unless said.
    public init(code: String, message: String, retryable: Bool = false) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    /// "Code: message".
    public var description: String { "\(code): \(message)" }
}

extension RPCError {
    /// The frame or its envelope could not be decoded (AWS's name for an unparseable body).
    public static let serializationCode = "SerializationException"
    /// The method names no operation this server serves.
    public static let unknownOperationCode = "UnknownOperationException"
    /// A frame longer than the configured maximum.
    public static let frameTooLargeCode = "RequestEntityTooLargeException"
    /// The connection closed before the answer arrived. The request may or may not have run.
    public static let connectionClosedCode = "ConnectionClosedException"
    /// No answer within the caller's timeout. The request may or may not have run.
    public static let timeoutCode = "RequestTimeoutException"
    /// A failure inside the server that says nothing about the request.
    public static let internalCode = "KMSInternalException"

    /// A request or answer that is not the message it should be; not retryable.
    public static func serialization(_ message: String) -> RPCError {
        RPCError(code: serializationCode, message: message)
    }

    /// No handler for `method`; the name is cut to 64 characters in the message, since the peer chose it.
    public static func unknownOperation(_ method: String) -> RPCError {
        let shown = method.count > 64 ? String(method.prefix(64)) + "…" : method
        return RPCError(code: unknownOperationCode, message: "unknown operation '\(shown)'")
    }

    /// A frame announced as `length` bytes when at most `maximum` are accepted.
    public static func frameTooLarge(length: Int, maximum: Int) -> RPCError {
        RPCError(
            code: frameTooLargeCode,
            message: "frame of \(length) bytes exceeds the maximum of \(maximum) bytes"
        )
    }

    /// The connection went away with the call unanswered; retryable, though the request may have run.
    public static func connectionClosed() -> RPCError {
        RPCError(
            code: connectionClosedCode,
            message: "the connection closed before the response arrived",
            retryable: true
        )
    }

    /// No answer to `method` in time; retryable, though the request may have run.
    public static func timeout(method: String) -> RPCError {
        RPCError(code: timeoutCode, message: "no response to \(method) within the timeout", retryable: true)
    }

    /// A server-side failure; the default message says nothing on purpose. Retryable.
    public static func `internal`(_ message: String = "internal error") -> RPCError {
        RPCError(code: internalCode, message: message, retryable: true)
    }
}
