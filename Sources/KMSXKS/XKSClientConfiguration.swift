import NIOCore
import NIOSSL

/// Where an XKS proxy is and how to talk to it: what AWS KMS's CreateCustomKeyStore takes for
/// an external key store (endpoint, URI path, credentials), plus the TLS trust and timeouts.
public struct XKSClientConfiguration: Sendable {
    /// A client certificate and its key, for a proxy that requires mutual TLS.
    public struct Identity: Sendable {
        /// The certificate first, then any intermediates.
        public var certificateChain: [NIOSSLCertificateSource]
        /// The certificate's private key.
        public var privateKey: NIOSSLPrivateKeySource
        /// An identity from its parts.
        public init(certificateChain: [NIOSSLCertificateSource], privateKey: NIOSSLPrivateKeySource) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
        }
    }

    /// `https://host[:port]`, the XksProxyUriEndpoint.
    public var endpoint: String
    /// `[/prefix]/kms/xks/v1`, the XksProxyUriPath.
    public var uriPath: String
    /// The access key the requests are signed with.
    public var credentials: XKSCredentials
    /// The region in the signature's credential scope.
    public var region: String
    /// The CAs the proxy's certificate must chain to; nil for the system's.
    public var trustRoots: NIOSSLTrustRoots?
    /// Presented when the proxy asks for a client certificate.
    public var identity: Identity?
    /// How long a TCP connect (and its TLS handshake) may take.
    public var connectTimeout: TimeAmount
    /// How long a request may wait for its whole answer once sent.
    public var requestTimeout: TimeAmount
    /// How many idle keep-alive connections are kept for the next requests.
    public var maxIdleConnections: Int
    /// How many connections may be open at once; a request past them waits for one (up to
    /// `requestTimeout`). Int.max: no bound.
    public var maxConnections: Int

    /// A configuration; the timeouts default to a second and two, a little more than the
    /// 250 ms AWS KMS gives a proxy, since our proxies sit further away than AWS's do.
    public init(
        endpoint: String, uriPath: String, credentials: XKSCredentials, region: String,
        trustRoots: NIOSSLTrustRoots? = nil, identity: Identity? = nil,
        connectTimeout: TimeAmount = .seconds(1), requestTimeout: TimeAmount = .seconds(2),
        maxIdleConnections: Int = 8, maxConnections: Int = .max
    ) {
        self.endpoint = endpoint
        self.uriPath = uriPath
        self.credentials = credentials
        self.region = region
        self.trustRoots = trustRoots
        self.identity = identity
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxIdleConnections = maxIdleConnections
        self.maxConnections = maxConnections
    }
}
