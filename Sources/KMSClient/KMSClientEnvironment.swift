import Foundation

/// How the CLI and tools find kmsd and their credentials, as the aws CLI does where it can:
/// flags first, then the environment (KMS_ENDPOINT, AWS_PROFILE, AWS_ACCESS_KEY_ID /
/// AWS_SECRET_ACCESS_KEY, AWS_SHARED_CREDENTIALS_FILE, AWS_CA_BUNDLE, KMS_CLIENT_CERTIFICATE /
/// KMS_CLIENT_KEY), then defaults.
public struct KMSClientEnvironment: Sendable {
    /// "host:port", "tls://host:port" or "tcp://host:port"; nil: KMS_ENDPOINT, else `defaultEndpoint`.
    public var endpoint: String?
    /// The shared credentials file's profile; given, it wins over AWS_ACCESS_KEY_ID. Nil: the environment's
    /// keys, else AWS_PROFILE's profile, else "default".
    public var profile: String?
    /// PEM bundle of the CAs to trust over TLS; nil: AWS_CA_BUNDLE, else the system's.
    public var caBundle: String?
    /// Client certificate (PEM path) for mutual TLS; nil: KMS_CLIENT_CERTIFICATE. Needs a tls:// endpoint.
    public var clientCertificate: String?
    /// The client certificate's key (PEM path); nil: KMS_CLIENT_KEY. Given with the certificate or not at all.
    public var clientKey: String?

    /// Flag values; nil leaves each to the environment or its default.
    public init(
        endpoint: String? = nil, profile: String? = nil, caBundle: String? = nil, clientCertificate: String? = nil,
        clientKey: String? = nil
    ) {
        self.endpoint = endpoint
        self.profile = profile
        self.caBundle = caBundle
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }

    /// "host:port" for plain TCP, "tls://host:port" for TLS ("tcp://host:port" also works).
    public static let defaultEndpoint = "127.0.0.1:7400"

    /// The endpoint's host:port and a configuration with credentials and TLS filled in.
    public func resolve(
        _ configuration: KMSClient.Configuration = .init(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KMSClientError) -> (endpoint: String, configuration: KMSClient.Configuration) {
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var configuration = configuration
        var endpoint = self.endpoint ?? env("KMS_ENDPOINT") ?? Self.defaultEndpoint
        var useTLS = false
        if endpoint.hasPrefix("tls://") {
            useTLS = true
            endpoint.removeFirst("tls://".count)
        } else if endpoint.hasPrefix("tcp://") {
            endpoint.removeFirst("tcp://".count)
        } else if endpoint.contains("://") {
            throw KMSClientError(
                code: "ValidationException",
                message: "the endpoint must be host:port, tls://host:port or tcp://host:port, not '\(endpoint)'",
                retryable: false)
        }
        let certificate = self.clientCertificate ?? env("KMS_CLIENT_CERTIFICATE")
        let key = self.clientKey ?? env("KMS_CLIENT_KEY")
        guard (certificate == nil) == (key == nil) else {
            throw KMSClientError(
                code: "ValidationException", message: "a client certificate needs its key, and a key its certificate",
                retryable: false)
        }
        if useTLS || certificate != nil {
            guard useTLS else {
                throw KMSClientError(
                    code: "ValidationException", message: "a client certificate needs a tls:// endpoint",
                    retryable: false)
            }
            configuration.tls = KMSClient.TLS(
                caBundlePath: self.caBundle ?? env("AWS_CA_BUNDLE"), certificatePath: certificate, privateKeyPath: key
            )
        }
        if configuration.credentials == nil {
            configuration.credentials = try KMSCredentials.resolve(profile: self.profile, environment: environment)
        }
        return (endpoint, configuration)
    }
}
