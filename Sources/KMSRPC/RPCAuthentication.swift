import NIOCore
import NIOSSL

/// Who a connection authenticated as.
public struct RPCIdentity: Sendable, Hashable {
    /// How the caller proved who it is; policies and the audit log see it.
    public enum Method: String, Sendable, Hashable {
        /// Answered the challenge with an access key.
        case accessKey
        /// Presented a TLS client certificate mapped to a principal.
        case certificate
        /// Nothing, on a server in insecure development mode.
        case anonymous
        /// An HTTP request signed with AWS Signature Version 4 by an access key.
        case signature
    }

    /// The ARN of the principal every authorization decision on this connection or request is made for.
    public let principalARN: String
    /// The access key that answered the challenge or signed the request (`.accessKey`, `.signature`).
    public let accessKeyID: String?
    /// How the principal was established.
    public let method: Method
    /// The region the caller acts in, when the authentication names one (a SigV4 scope).
    public let region: String?

    /// An identity as the verifier decided it.
    public init(principalARN: String, accessKeyID: String? = nil, method: Method, region: String? = nil) {
        self.principalARN = principalARN
        self.accessKeyID = accessKeyID
        self.method = method
        self.region = region
    }
}

/// One client's answer to its connection's challenge, as the server's verifier sees it.
public struct RPCAuthenticationAttempt: Sendable {
    /// The connection the answer came on: peer address, TLS or not.
    public let connection: RPCConnectionInfo
    /// The random nonce of this connection's challenge, which `proof` must cover.
    public let nonce: [UInt8]
    /// Empty when the client answered without credentials.
    public let accessKeyID: String
    /// The HMAC of the nonce and access key id under the secret (`RPCAccessKeyProof`); compare it in
    /// constant time. Empty when the client answered without credentials.
    public let proof: [UInt8]
    /// The principal the TLS client certificate maps to, if any.
    public let certificatePrincipal: String?
}

/// The server side of connection authentication (see `proto/kms/rpc/v1/envelope.proto`).
public struct RPCServerAuthentication: Sendable {
    /// Decides who the attempt is, or throws the error the client is sent before the connection
    /// closes (an `RPCError`, or anything the handler table's `mapError` knows).
    public typealias Verify = @Sendable (RPCAuthenticationAttempt) async throws -> RPCIdentity

    /// Called once per connection, before any request on it is served.
    public var verify: Verify
    /// Maps a verified TLS client certificate to a principal ARN (mutual TLS), or nil.
    public var certificatePrincipal: (@Sendable (NIOSSLCertificate) -> String?)?
    /// Announced in the challenge: an empty answer is accepted (insecure development mode).
    public var anonymousAllowed: Bool
    /// A connection that has not authenticated by then is closed.
    public var timeout: TimeAmount

    /// Authentication that accepts only what `verify` accepts; anonymous answers are refused unless allowed.
    public init(
        anonymousAllowed: Bool = false,
        timeout: TimeAmount = .seconds(10),
        certificatePrincipal: (@Sendable (NIOSSLCertificate) -> String?)? = nil,
        verify: @escaping Verify
    ) {
        self.verify = verify
        self.certificatePrincipal = certificatePrincipal
        self.anonymousAllowed = anonymousAllowed
        self.timeout = timeout
    }
}

/// The client side: turns the server's challenge into the answer.
public typealias RPCClientHandshake = @Sendable (RPCChallenge) throws -> RPCAuthenticate

extension RPCError {
    /// AWS's codes for a request without, or with unusable, credentials.
    public static let missingAuthenticationTokenCode = "MissingAuthenticationTokenException"
    /// The access key is unknown or no longer active.
    public static let unrecognizedClientCode = "UnrecognizedClientException"
    /// The proof or signature does not match the access key's secret.
    public static let invalidSignatureCode = "InvalidSignatureException"
    /// The server could not check credentials in time (AWS's code for a slow dependency).
    public static let dependencyTimeoutCode = "DependencyTimeoutException"

    static let challengeMethod = "Challenge"
    static let authenticateMethod = "Authenticate"
}
