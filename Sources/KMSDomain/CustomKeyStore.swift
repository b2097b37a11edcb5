import struct Foundation.Date

/// A custom key store's id: `cks-` and 17 lowercase hex digits, as AWS writes them.
public struct CustomKeyStoreID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The id as written.
    public let description: String

    /// Parses an id; nil unless it is `cks-` and 17 hex digits (either case, kept lowercase).
    public init?(_ text: String) {
        let lowered = text.lowercased()
        guard lowered.utf8.count == 21, lowered.hasPrefix("cks-"),
            lowered.utf8.dropFirst(4).allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        self.description = lowered
    }

    /// A fresh random id.
    public static func random() -> CustomKeyStoreID {
        var generator = SystemRandomNumberGenerator()
        let digits = (0..<17).map { _ in String(generator.next(upperBound: UInt8(16)), radix: 16) }.joined()
        return CustomKeyStoreID("cks-" + digits)!
    }

    /// Ids order as their text.
    public static func < (lhs: CustomKeyStoreID, rhs: CustomKeyStoreID) -> Bool { lhs.description < rhs.description }
}

/// The two kinds of custom key store AWS defines.
public enum CustomKeyStoreType: String, Sendable, CaseIterable {
    /// Backed by an HSM: a PKCS#11 token here (CloudHSMTokenSettings).
    case awsCloudHSM = "AWS_CLOUDHSM"
    /// Backed by an external key manager behind an XKS proxy.
    case externalKeyStore = "EXTERNAL_KEY_STORE"
}

/// How kmsd reaches an XKS proxy. Only PUBLIC_ENDPOINT is served: there is no VPC here.
public enum XksProxyConnectivity: String, Sendable, CaseIterable {
    /// An HTTPS endpoint kmsd reaches directly.
    case publicEndpoint = "PUBLIC_ENDPOINT"
    /// An AWS VPC endpoint service (not served).
    case vpcEndpointService = "VPC_ENDPOINT_SERVICE"
}

/// AWS's connection states of a custom key store.
public enum CustomKeyStoreConnectionState: String, Sendable, CaseIterable {
    case connected = "CONNECTED"
    case connecting = "CONNECTING"
    case failed = "FAILED"
    case disconnected = "DISCONNECTED"
    case disconnecting = "DISCONNECTING"
}

/// Why a custom key store is FAILED (AWS's ConnectionErrorCode values an external key store uses).
public enum CustomKeyStoreConnectionError: String, Sendable, CaseIterable {
    case internalError = "INTERNAL_ERROR"
    case networkErrors = "NETWORK_ERRORS"
    case invalidCredentials = "INVALID_CREDENTIALS"
    case clusterNotFound = "CLUSTER_NOT_FOUND"
    case userLoggedIn = "USER_LOGGED_IN"
    case userLockedOut = "USER_LOCKED_OUT"
    case userNotFound = "USER_NOT_FOUND"
    case xksProxyAccessDenied = "XKS_PROXY_ACCESS_DENIED"
    case xksProxyNotReachable = "XKS_PROXY_NOT_REACHABLE"
    case xksProxyInvalidResponse = "XKS_PROXY_INVALID_RESPONSE"
    case xksProxyInvalidConfiguration = "XKS_PROXY_INVALID_CONFIGURATION"
    case xksProxyTimedOut = "XKS_PROXY_TIMED_OUT"
    case xksProxyInvalidTLSConfiguration = "XKS_PROXY_INVALID_TLS_CONFIGURATION"
}

/// Where an external key store's proxy is and how kmsd signs for it. The secret is held wrapped
/// under a root key (by kms-cryptod, bound to the store's ARN and the access key id) and never
/// in plaintext: only kms-cryptod unwraps it, to derive the day's SigV4 signing key.
public struct XksProxySettings: Sendable, Hashable {
    /// `https://host[:port]`.
    public var uriEndpoint: String
    /// `/.../kms/xks/v1`.
    public var uriPath: String
    /// Always `.publicEndpoint` here.
    public var connectivity: XksProxyConnectivity
    /// The proxy authentication credential's access key id (shown by DescribeCustomKeyStores).
    public var accessKeyID: String
    /// The secret access key, wrapped by kms-cryptod.
    public var wrappedSecret: [UInt8]

    /// Settings from their parts.
    public init(
        uriEndpoint: String, uriPath: String, connectivity: XksProxyConnectivity, accessKeyID: String,
        wrappedSecret: [UInt8]
    ) {
        self.uriEndpoint = uriEndpoint
        self.uriPath = uriPath
        self.connectivity = connectivity
        self.accessKeyID = accessKeyID
        self.wrappedSecret = wrappedSecret
    }
}

/// One custom key store as stored; a value, versioned like `KeyRecord`.
public struct CustomKeyStoreRecord: Sendable, Hashable {
    /// The store's id.
    public var id: CustomKeyStoreID
    /// The owning account.
    public var account: String
    /// The region it was created in.
    public var region: String
    /// Its name, unique in the account and region.
    public var name: String
    /// Its kind.
    public var type: CustomKeyStoreType
    /// Where it is in its connection life cycle.
    public var connectionState: CustomKeyStoreConnectionState
    /// Set while FAILED.
    public var connectionError: CustomKeyStoreConnectionError?
    /// EXTERNAL_KEY_STORE only.
    public var xks: XksProxySettings?
    /// AWS_CLOUDHSM only: the PKCS #11 token.
    public var cloudHSM: CloudHSMTokenSettings?
    /// When CreateCustomKeyStore made it.
    public var creationDate: Date
    /// The row version, bumped by every change.
    public var version: Int64

    /// A store as stored.
    public init(
        id: CustomKeyStoreID, account: String, region: String, name: String, type: CustomKeyStoreType,
        connectionState: CustomKeyStoreConnectionState, connectionError: CustomKeyStoreConnectionError? = nil,
        xks: XksProxySettings?, cloudHSM: CloudHSMTokenSettings? = nil, creationDate: Date, version: Int64
    ) {
        self.id = id
        self.account = account
        self.region = region
        self.name = name
        self.type = type
        self.connectionState = connectionState
        self.connectionError = connectionError
        self.xks = xks
        self.cloudHSM = cloudHSM
        self.creationDate = creationDate
        self.version = version
    }

    /// `arn:<partition>:kms:<region>:<account>:key-store/<id>`: the resource of the operations on it.
    public func arn(partition: String) -> String {
        "arn:\(partition):kms:\(self.region):\(self.account):key-store/\(self.id)"
    }
}
