import Foundation

/// The four operations of XKS proxy API version 1 and where each lives under the proxy's
/// path prefix.
public enum XKSOperation: String, Sendable, Hashable, CaseIterable {
    /// POST `<prefix>/kms/xks/v1/keys/<id>/metadata`.
    case getKeyMetadata = "GetKeyMetadata"
    /// POST `<prefix>/kms/xks/v1/keys/<id>/encrypt`.
    case encrypt = "Encrypt"
    /// POST `<prefix>/kms/xks/v1/keys/<id>/decrypt`.
    case decrypt = "Decrypt"
    /// POST `<prefix>/kms/xks/v1/health`.
    case getHealthStatus = "GetHealthStatus"

    /// The last path segment that names the operation.
    public var pathSuffix: String {
        switch self {
        case .getKeyMetadata: return "metadata"
        case .encrypt: return "encrypt"
        case .decrypt: return "decrypt"
        case .getHealthStatus: return "health"
        }
    }

    /// The path of a call below the configured URI path (`[/prefix]/kms/xks/v1`); `keyID` is
    /// ignored for GetHealthStatus.
    public func path(uriPath: String, keyID: String) -> String {
        let base = uriPath.hasSuffix("/") ? String(uriPath.dropLast()) : uriPath
        if self == .getHealthStatus { return "\(base)/health" }
        return "\(base)/keys/\(keyID)/\(self.pathSuffix)"
    }
}

/// GetKeyMetadata's body: only the request metadata.
public struct XKSGetKeyMetadataRequest: Codable, Sendable, Hashable {
    /// Who asked, for the audit trail.
    public var requestMetadata: XKSRequestMetadata
    /// A request from its metadata.
    public init(requestMetadata: XKSRequestMetadata) { self.requestMetadata = requestMetadata }
}

/// What GetKeyMetadata answers: version 1 knows only 256-bit AES keys.
public struct XKSGetKeyMetadataResponse: Codable, Sendable, Hashable {
    /// `AES_256` for every key version 1 allows.
    public var keySpec: String
    /// What the key may do: `ENCRYPT` and `DECRYPT` (at most ten entries).
    public var keyUsage: [String]
    /// `ENABLED` or `DISABLED`.
    public var keyStatus: String
    /// A response from its fields.
    public init(keySpec: String = "AES_256", keyUsage: [String] = ["ENCRYPT", "DECRYPT"], keyStatus: String) {
        self.keySpec = keySpec
        self.keyUsage = keyUsage
        self.keyStatus = keyStatus
    }
}

/// Encrypt's body. Binary fields travel as base64 strings (Foundation's `Data` coding).
public struct XKSEncryptRequest: Codable, Sendable, Hashable {
    /// Who asked, for the audit trail.
    public var requestMetadata: XKSRequestMetadata
    /// The caller's AAD, at most 8192 bytes.
    public var additionalAuthenticatedData: Data?
    /// At most 4300 bytes; never logged.
    public var plaintext: Data
    /// `AES_GCM`, the only algorithm of version 1.
    public var encryptionAlgorithm: String
    /// `SHA_256` asks for a ciphertextDataIntegrityValue in the response.
    public var ciphertextDataIntegrityValueAlgorithm: String?

    /// A request from its fields.
    public init(
        requestMetadata: XKSRequestMetadata, plaintext: Data, additionalAuthenticatedData: Data? = nil,
        encryptionAlgorithm: String = XKSLimits.encryptionAlgorithm,
        ciphertextDataIntegrityValueAlgorithm: String? = nil
    ) {
        self.requestMetadata = requestMetadata
        self.additionalAuthenticatedData = additionalAuthenticatedData
        self.plaintext = plaintext
        self.encryptionAlgorithm = encryptionAlgorithm
        self.ciphertextDataIntegrityValueAlgorithm = ciphertextDataIntegrityValueAlgorithm
    }
}

/// Encrypt's answer: the parts of an AES-GCM ciphertext, separately.
public struct XKSEncryptResponse: Codable, Sendable, Hashable {
    /// As long as the plaintext.
    public var ciphertext: Data
    /// At most 20 bytes the proxy wants back on Decrypt (ours: the material version).
    public var ciphertextMetadata: Data?
    /// 12 or 16 bytes.
    public var initializationVector: Data
    /// 16 bytes.
    public var authenticationTag: Data
    /// SHA-256 over AAD, metadata, IV, ciphertext and tag, when the request asked for it.
    public var ciphertextDataIntegrityValue: Data?

    /// A response from its fields.
    public init(
        ciphertext: Data, ciphertextMetadata: Data?, initializationVector: Data, authenticationTag: Data,
        ciphertextDataIntegrityValue: Data? = nil
    ) {
        self.ciphertext = ciphertext
        self.ciphertextMetadata = ciphertextMetadata
        self.initializationVector = initializationVector
        self.authenticationTag = authenticationTag
        self.ciphertextDataIntegrityValue = ciphertextDataIntegrityValue
    }
}

/// Decrypt's body: what Encrypt returned, with the same AAD.
public struct XKSDecryptRequest: Codable, Sendable, Hashable {
    /// Who asked, for the audit trail.
    public var requestMetadata: XKSRequestMetadata
    /// At most 4300 bytes.
    public var ciphertext: Data
    /// What Encrypt returned in `ciphertextMetadata`, if anything.
    public var ciphertextMetadata: Data?
    /// `AES_GCM`.
    public var encryptionAlgorithm: String
    /// The AAD given to Encrypt.
    public var additionalAuthenticatedData: Data?
    /// 16 bytes.
    public var authenticationTag: Data
    /// 12 or 16 bytes.
    public var initializationVector: Data

    /// A request from its fields.
    public init(
        requestMetadata: XKSRequestMetadata, ciphertext: Data, ciphertextMetadata: Data?,
        initializationVector: Data, authenticationTag: Data, additionalAuthenticatedData: Data? = nil,
        encryptionAlgorithm: String = XKSLimits.encryptionAlgorithm
    ) {
        self.requestMetadata = requestMetadata
        self.ciphertext = ciphertext
        self.ciphertextMetadata = ciphertextMetadata
        self.encryptionAlgorithm = encryptionAlgorithm
        self.additionalAuthenticatedData = additionalAuthenticatedData
        self.authenticationTag = authenticationTag
        self.initializationVector = initializationVector
    }

    /// The request that decrypts what `response` encrypted under the same AAD.
    public init(
        requestMetadata: XKSRequestMetadata, encrypted response: XKSEncryptResponse,
        additionalAuthenticatedData: Data?
    ) {
        self.init(
            requestMetadata: requestMetadata, ciphertext: response.ciphertext,
            ciphertextMetadata: response.ciphertextMetadata, initializationVector: response.initializationVector,
            authenticationTag: response.authenticationTag, additionalAuthenticatedData: additionalAuthenticatedData)
    }
}

/// Decrypt's answer.
public struct XKSDecryptResponse: Codable, Sendable, Hashable {
    /// As long as the ciphertext; never logged.
    public var plaintext: Data
    /// A response from its plaintext.
    public init(plaintext: Data) { self.plaintext = plaintext }
}

/// GetHealthStatus's body: only the request metadata (kmsOperation and kmsRequestId).
public struct XKSGetHealthStatusRequest: Codable, Sendable, Hashable {
    /// Who asked, for the audit trail.
    public var requestMetadata: XKSRequestMetadata
    /// A request from its metadata.
    public init(requestMetadata: XKSRequestMetadata) { self.requestMetadata = requestMetadata }
}

/// GetHealthStatus's answer: the proxy fleet and the key managers behind it.
public struct XKSGetHealthStatusResponse: Codable, Sendable, Hashable {
    /// One key manager behind the proxy and how it is doing.
    public struct EKMFleetDetail: Codable, Sendable, Hashable {
        /// Names the key manager within its fleet.
        public var id: String
        /// Product and version.
        public var model: String
        /// `ACTIVE`, `DEGRADED` or `UNAVAILABLE`.
        public var healthStatus: String
        /// A detail from its fields.
        public init(id: String, model: String, healthStatus: String) {
            self.id = id
            self.model = model
            self.healthStatus = healthStatus
        }
    }

    /// How many proxies serve this endpoint; above zero.
    public var xksProxyFleetSize: Int
    /// Who makes the proxy.
    public var xksProxyVendor: String
    /// The proxy's product and version.
    public var xksProxyModel: String
    /// Who makes the key manager.
    public var ekmVendor: String
    /// One to ten key managers.
    public var ekmFleetDetails: [EKMFleetDetail]

    /// A response from its fields.
    public init(
        xksProxyFleetSize: Int, xksProxyVendor: String, xksProxyModel: String, ekmVendor: String,
        ekmFleetDetails: [EKMFleetDetail]
    ) {
        self.xksProxyFleetSize = xksProxyFleetSize
        self.xksProxyVendor = xksProxyVendor
        self.xksProxyModel = xksProxyModel
        self.ekmVendor = ekmVendor
        self.ekmFleetDetails = ekmFleetDetails
    }
}

/// The body of every error answer.
public struct XKSErrorBody: Codable, Sendable, Hashable {
    /// One of `XKSErrorName`'s raw values (a newer proxy may send others).
    public var errorName: String
    /// Under 512 printable ASCII characters.
    public var errorMessage: String?
    /// A body from its fields.
    public init(errorName: String, errorMessage: String? = nil) {
        self.errorName = errorName
        self.errorMessage = errorMessage
    }
}
