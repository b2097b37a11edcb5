import GRPCCore
import KMSClient

import struct KMSRPC.DeadlineExceeded
import func KMSRPC.withDeadline

/// kmsd's answers as the gRPC status the apiserver acts on: UNAVAILABLE for what may pass (kmsd
/// down or slow, a retryable error), so the apiserver retries and reports the plugin unhealthy;
/// INVALID_ARGUMENT for a ciphertext or annotations that are not ours; PERMISSION_DENIED and
/// FAILED_PRECONDITION for a key the plugin may not or cannot use. Messages carry kmsd's
/// message, never key material or plaintext.
enum PluginError {
    static func rpcError(_ error: any Error, operation: String) -> RPCError {
        if let error = error as? RPCError { return error }
        if let timeout = error as? CallTimedOut {
            return RPCError(code: .unavailable, message: "\(operation): \(timeout)")
        }
        guard let error = error as? KMSClientError else {
            return RPCError(code: .internalError, message: "\(operation) failed: \(error)")
        }
        let message = "\(operation): kmsd answered \(error.code): \(error.message)"
        switch error.code {
        case "InvalidCiphertextException", "IncorrectKeyException", "ValidationException",
            "InvalidKeyUsageException", "InvalidGrantTokenException":
            return RPCError(code: .invalidArgument, message: message)
        case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
            "IncompleteSignatureException", "MissingAuthenticationTokenException", "ExpiredTokenException":
            return RPCError(code: .permissionDenied, message: message)
        case "NotFoundException", "DisabledException", "KMSInvalidStateException", "KeyUnavailableException":
            return RPCError(code: .failedPrecondition, message: message)
        default:
            return RPCError(code: error.retryable ? .unavailable : .internalError, message: message)
        }
    }

    /// A failure as Status's healthz text.
    static func describe(_ error: any Error) -> String {
        if let timeout = error as? CallTimedOut { return "\(timeout)" }
        if let error = error as? KMSClientError { return "kmsd answered \(error.code): \(error.message)" }
        return "\(error)"
    }
}

/// A call to kmsd that did not end within the plugin's call timeout.
struct CallTimedOut: Error, CustomStringConvertible {
    let operation: String
    let timeout: Duration
    var description: String { "kmsd did not answer \(self.operation) within \(self.timeout)" }
}

/// Runs `body`, given up after `timeout` (KMSRPC's `withDeadline`: cancelled, and not waited for)
/// as CallTimedOut naming the operation: the apiserver's own deadline is short, and an answer
/// that UNAVAILABLE came quickly beats a hang.
func withTimeout<T: Sendable>(
    _ timeout: Duration, _ operation: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    do {
        return try await withDeadline(timeout, body)
    } catch is DeadlineExceeded {
        throw CallTimedOut(operation: operation, timeout: timeout)
    }
}
