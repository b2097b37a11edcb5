/// A failure with an AWS KMS exception name and a message that helps the caller.
///
/// The message crosses trust boundaries (to kmsd, to clients, into logs): it never contains
/// key material, a plaintext, a data key or a secret. Build it from lengths, names and ids.
public struct KMSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The AWS exception name the caller sees.
    public var code: Code
    /// What went wrong, for the caller; never contains key material, plaintext or a secret.
    public var message: String
    /// True when the same request may succeed if sent again later.
    public var retryable: Bool

    /// A failure with `code` and `message`; not retryable unless said so.
    public init(_ code: Code, _ message: String, retryable: Bool = false) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    /// `<exception name>: <message>`, safe to log.
    public var description: String { "\(code.rawValue): \(message)" }

    /// The AWS KMS exception names (botocore model kms 2014-11-01), plus the generic AWS ones
    /// a service answers with (ValidationException, AccessDeniedException, ...).
    public enum Code: String, Sendable, Hashable, CaseIterable {
        case accessDenied = "AccessDeniedException"
        case alreadyExists = "AlreadyExistsException"
        case conflict = "ConflictException"
        case dependencyTimeout = "DependencyTimeoutException"
        case disabled = "DisabledException"
        case dryRunOperation = "DryRunOperationException"
        case expiredImportToken = "ExpiredImportTokenException"
        case incorrectKey = "IncorrectKeyException"
        case incorrectKeyMaterial = "IncorrectKeyMaterialException"
        case invalidAliasName = "InvalidAliasNameException"
        case invalidArn = "InvalidArnException"
        case invalidCiphertext = "InvalidCiphertextException"
        case invalidGrantId = "InvalidGrantIdException"
        case invalidGrantToken = "InvalidGrantTokenException"
        case invalidImportToken = "InvalidImportTokenException"
        case invalidKeyUsage = "InvalidKeyUsageException"
        case invalidMarker = "InvalidMarkerException"
        case internalFailure = "KMSInternalException"
        case invalidMac = "KMSInvalidMacException"
        case invalidSignature = "KMSInvalidSignatureException"
        case invalidState = "KMSInvalidStateException"
        case keyUnavailable = "KeyUnavailableException"
        case limitExceeded = "LimitExceededException"
        case malformedPolicyDocument = "MalformedPolicyDocumentException"
        case notFound = "NotFoundException"
        case tag = "TagException"
        case unsupportedOperation = "UnsupportedOperationException"
        case validation = "ValidationException"
        case throttling = "ThrottlingException"
        case serialization = "SerializationException"
        case unknownOperation = "UnknownOperationException"
        // Custom key stores and their external key store proxies.
        case customKeyStoreHasCMKs = "CustomKeyStoreHasCMKsException"
        case customKeyStoreInvalidState = "CustomKeyStoreInvalidStateException"
        case customKeyStoreNameInUse = "CustomKeyStoreNameInUseException"
        case customKeyStoreNotFound = "CustomKeyStoreNotFoundException"
        case xksKeyAlreadyInUse = "XksKeyAlreadyInUseException"
        case xksKeyInvalidConfiguration = "XksKeyInvalidConfigurationException"
        case xksKeyNotFound = "XksKeyNotFoundException"
        case xksProxyIncorrectAuthenticationCredential = "XksProxyIncorrectAuthenticationCredentialException"
        case xksProxyInvalidConfiguration = "XksProxyInvalidConfigurationException"
        case xksProxyInvalidResponse = "XksProxyInvalidResponseException"
        case xksProxyUriEndpointInUse = "XksProxyUriEndpointInUseException"
        case xksProxyUriInUse = "XksProxyUriInUseException"
        case xksProxyUriUnreachable = "XksProxyUriUnreachableException"
        // CloudHSM key stores' failures, for those backed by a PKCS #11 token (AWS_CLOUDHSM): the
        // token stands where AWS has a CloudHSM cluster.
        case cloudHsmClusterInUse = "CloudHsmClusterInUseException"
        case cloudHsmClusterInvalidConfiguration = "CloudHsmClusterInvalidConfigurationException"
        case cloudHsmClusterNotActive = "CloudHsmClusterNotActiveException"
        case cloudHsmClusterNotFound = "CloudHsmClusterNotFoundException"
        // Authentication failures, as AWS names them.
        case unrecognizedClient = "UnrecognizedClientException"
        case missingAuthenticationToken = "MissingAuthenticationTokenException"
        case invalidClientSignature = "InvalidSignatureException"
        case incompleteSignature = "IncompleteSignatureException"
    }
}

extension KMSError {
    /// A `ValidationException`: the request is malformed.
    public static func validation(_ message: String) -> KMSError { KMSError(.validation, message) }
    /// An `InvalidCiphertextException`: the ciphertext or its encryption context is not one this service made.
    public static func invalidCiphertext(_ message: String) -> KMSError { KMSError(.invalidCiphertext, message) }
    /// An `IncorrectKeyException`: the ciphertext was made under another key than the one named.
    public static func incorrectKey(_ message: String) -> KMSError { KMSError(.incorrectKey, message) }
    /// A failure that says nothing about the request; the message stays generic on purpose.
    public static func internalFailure(_ message: String = "internal error", retryable: Bool = true) -> KMSError {
        KMSError(.internalFailure, message, retryable: retryable)
    }
}
