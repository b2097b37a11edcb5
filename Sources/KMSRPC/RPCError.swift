/// An error carried in a response envelope, or raised locally by the RPC layer.
///
/// `code` is an AWS KMS exception name (`NotFoundException`, `InvalidCiphertextException`, ...)
/// or, for failures of the link itself, one of the codes below. The message says what is wrong
/// and must never contain key material, a plaintext or a secret: it crosses process boundaries.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// True when sending the same request again later may succeed.
    public var retryable: Bool

    public init(code: String, message: String, retryable: Bool = false) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

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

    public static func serialization(_ message: String) -> RPCError {
        RPCError(code: serializationCode, message: message)
    }

    public static func unknownOperation(_ method: String) -> RPCError {
        let shown = method.count > 64 ? String(method.prefix(64)) + "…" : method
        return RPCError(code: unknownOperationCode, message: "unknown operation '\(shown)'")
    }

    public static func frameTooLarge(length: Int, maximum: Int) -> RPCError {
        RPCError(
            code: frameTooLargeCode,
            message: "frame of \(length) bytes exceeds the maximum of \(maximum) bytes"
        )
    }

    public static func connectionClosed() -> RPCError {
        RPCError(
            code: connectionClosedCode,
            message: "the connection closed before the response arrived",
            retryable: true
        )
    }

    public static func timeout(method: String) -> RPCError {
        RPCError(code: timeoutCode, message: "no response to \(method) within the timeout", retryable: true)
    }

    public static func `internal`(_ message: String = "internal error") -> RPCError {
        RPCError(code: internalCode, message: message, retryable: true)
    }
}
