/// The error names of XKS proxy API version 1 and the HTTP status each is sent with.
public enum XKSErrorName: String, Sendable, Hashable, CaseIterable {
    /// 400: a parameter is missing, malformed or out of range.
    case validation = "ValidationException"
    /// 400: the key (or the key store) is disabled or otherwise unusable now.
    case invalidState = "InvalidStateException"
    /// 400: the ciphertext, IV, AAD or tag does not authenticate (Decrypt).
    case invalidCiphertext = "InvalidCiphertextException"
    /// 400: the key may not do this operation.
    case invalidKeyUsage = "InvalidKeyUsageException"
    /// 401: the SigV4 signature (or the access key) is not good.
    case authenticationFailed = "AuthenticationFailedException"
    /// 403: the caller may not do this with this key.
    case accessDenied = "AccessDeniedException"
    /// 404: no such external key.
    case keyNotFound = "KeyNotFoundException"
    /// 404: the path is not one of the API's.
    case invalidUriPath = "InvalidUriPathException"
    /// 429: too many requests.
    case throttling = "ThrottlingException"
    /// 501: not implemented here (an operation, or a size beyond what the spec requires).
    case unsupportedOperation = "UnsupportedOperationException"
    /// 503: a dependency of the proxy did not answer in time.
    case dependencyTimeout = "DependencyTimeoutException"
    /// 500: anything else on the proxy's side.
    case internalFailure = "InternalException"

    /// The HTTP status this error is answered with.
    public var httpStatus: Int {
        switch self {
        case .validation, .invalidState, .invalidCiphertext, .invalidKeyUsage: return 400
        case .authenticationFailed: return 401
        case .accessDenied: return 403
        case .keyNotFound, .invalidUriPath: return 404
        case .throttling: return 429
        case .unsupportedOperation: return 501
        case .dependencyTimeout: return 503
        case .internalFailure: return 500
        }
    }
}

/// An error an XKS proxy answered with, or one the proxy side raises to answer with.
public struct XKSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error's name; `nil` when a proxy sent a name version 1 does not define (`rawName` has it).
    public var name: XKSErrorName?
    /// The name as sent.
    public var rawName: String
    /// The message, already limited to what the spec allows (printable ASCII, under 512).
    public var message: String
    /// The HTTP status it came (or goes) with.
    public var httpStatus: Int

    /// An error of a known name, with that name's status.
    public init(_ name: XKSErrorName, _ message: String) {
        self.name = name
        self.rawName = name.rawValue
        self.message = XKSLimits.errorMessage(message)
        self.httpStatus = name.httpStatus
    }

    /// An error as a proxy answered it: the name may be unknown, the status is what was sent.
    public init(rawName: String, message: String, httpStatus: Int) {
        self.name = XKSErrorName(rawValue: rawName)
        self.rawName = rawName
        self.message = XKSLimits.errorMessage(message)
        self.httpStatus = httpStatus
    }

    /// The JSON body of this error's answer.
    public var body: XKSErrorBody { XKSErrorBody(errorName: self.rawName, errorMessage: self.message) }

    /// `Name: message`.
    public var description: String { self.message.isEmpty ? self.rawName : "\(self.rawName): \(self.message)" }
}

/// Why an XKS call through `XKSClient` failed. The cases follow what AWS KMS tells apart when
/// it calls a proxy, so a caller can map each onto its own error (unreachable proxy, invalid
/// response, the proxy's own answer).
public enum XKSClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The proxy answered with an XKS error.
    case proxy(XKSError)
    /// No TCP connection could be made (refused, unresolvable, network down).
    case unreachable(String)
    /// The TLS handshake failed (untrusted or mismatched certificate, no client certificate accepted).
    case tlsFailure(String)
    /// No answer within the configured timeout.
    case timedOut
    /// The answer was not what the API defines (status, JSON, sizes).
    case invalidResponse(String)
    /// The request could not be built (bad key id, oversized field, bad configuration).
    case invalidRequest(String)

    /// The XKS error name when the proxy answered with one.
    public var errorName: XKSErrorName? {
        if case .proxy(let error) = self { return error.name }
        return nil
    }

    /// What happened, without request data.
    public var description: String {
        switch self {
        case .proxy(let error): return "XKS proxy answered \(error)"
        case .unreachable(let reason): return "XKS proxy unreachable: \(reason)"
        case .tlsFailure(let reason): return "TLS with the XKS proxy failed: \(reason)"
        case .timedOut: return "XKS proxy did not answer in time"
        case .invalidResponse(let reason): return "XKS proxy answered something invalid: \(reason)"
        case .invalidRequest(let reason): return "XKS request not sent: \(reason)"
        }
    }
}
