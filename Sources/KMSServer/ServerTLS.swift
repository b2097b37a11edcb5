import KMSDomain
import KMSRPC
import NIOSSL

/// TLS for kmsd's listener: a certificate and key from files, and for mutual TLS a CA whose
/// client certificates are accepted and mapped to principals by their URI SAN (SPIFFE ids).
public struct ServerTLS: Sendable {
    /// The PEM certificate chain the listener presents.
    public var certificatePath: String
    /// The PEM private key of the certificate.
    public var privateKeyPath: String
    /// When set, clients may present a certificate issued by this CA (PEM). Clients without one
    /// still connect and authenticate with an access key.
    public var clientCAPath: String?
    /// URI SAN (e.g. spiffe://cluster.local/ns/payments/sa/api) → principal ARN. A trailing "*"
    /// in the URI matches any suffix; the exact URI, else the longest pattern, wins.
    public var certificatePrincipals: [String: String]

    /// TLS settings from these files; nothing is read until `makeContext()`.
    public init(
        certificatePath: String, privateKeyPath: String, clientCAPath: String? = nil,
        certificatePrincipals: [String: String] = [:]
    ) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.clientCAPath = clientCAPath
        self.certificatePrincipals = certificatePrincipals
    }

    /// Reads the files into a server context (TLS 1.2 at least; client certificates optional, verified against
    /// `clientCAPath` when set). Throws when a file is missing or not PEM.
    public func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(self.certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: self.privateKeyPath, format: .pem))
        )
        configuration.minimumTLSVersion = .tlsv12
        if let clientCAPath {
            configuration.trustRoots = .file(clientCAPath)
            configuration.certificateVerification = .optionalVerification
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// The principal a verified client certificate maps to: an exact URI SAN first, else the
    /// longest matching pattern (`RPCCertificatePrincipals`), whatever the order of the mapping
    /// or of the certificate's names.
    public func principal(for certificate: NIOSSLCertificate) -> String? {
        RPCCertificatePrincipals(self.certificatePrincipals).principal(for: certificate)
    }
}
