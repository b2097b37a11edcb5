import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// kms-xks-proxy's listener: HTTPS (TLS 1.2 or later; HTTP/1.1), with mutual TLS when the
/// configuration names a client CA: a connection without a certificate from it, or whose
/// certificate carries none of the allowed subject names, fails its handshake.
public final class XKSProxyServer: Sendable {
    private let channel: any Channel
    /// Where it listens; with port 0 asked for, the port the system chose.
    public let localAddress: SocketAddress

    private init(channel: any Channel) {
        self.channel = channel
        self.localAddress = channel.localAddress!
    }

    /// Listens on `host`:`port` and serves `service`.
    public static func start(
        host: String, port: Int, configuration: XKSProxyConfiguration, service: XKSProxyService,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> XKSProxyServer {
        let tls = try NIOSSLContext(configuration: Self.tlsConfiguration(configuration.tls))
        let subjects =
            configuration.tls.clientCA == nil ? nil : XKSClientSubject(patterns: configuration.allowedClientSubjects)
        let logger = service.logger
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    if let subjects {
                        // After BoringSSL's chain check, before the handshake completes: a refused
                        // certificate never reaches HTTP.
                        try operations.addHandler(
                            NIOSSLServerHandler._makeSSLServerHandler(
                                context: tls,
                                additionalPeerCertificateVerificationCallback: Self.check(subjects, logger: logger)))
                    } else {
                        try operations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try operations.configureHTTPServerPipeline(withErrorHandling: true)
                    try operations.addHandler(XKSProxyHTTPHandler(service: service))
                }
            }
            .bind(host: host, port: port).get()
        return XKSProxyServer(channel: channel)
    }

    /// The server side of TLS: our certificate, and with `clientCA` a required client certificate chained to it.
    static func tlsConfiguration(_ tls: XKSProxyConfiguration.TLS) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        if let clientCA = tls.clientCA {
            configuration.trustRoots = .file(clientCA)
            // Chained to our CA, whatever name it carries (a client is not a host).
            configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }

    /// Stops listening; connections in progress end when their peers close them.
    public func close() async throws {
        try await self.channel.close()
    }
}

extension XKSProxyServer {
    /// Refuses a (chain-verified) client certificate that names no allowed subject, and logs its names.
    static func check(_ subjects: XKSClientSubject, logger: Logger)
        -> _NIOAdditionalPeerCertificateVerificationCallback
    {
        { certificate, channel in
            guard subjects.allows(certificate) else {
                let names = XKSClientSubject.names(of: certificate).map(XKSProxyService.short)
                logger.warning(
                    "client certificate refused: no allowed subject name",
                    metadata: ["names": "\(names)", "peer": "\(channel.remoteAddress.map { "\($0)" } ?? "-")"])
                return channel.eventLoop.makeFailedFuture(XKSClientSubjectRefused())
            }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
    }
}

/// A client certificate chained to the client CA but naming no allowed subject.
struct XKSClientSubjectRefused: Error {}

extension XKSProxyServer {
    /// Returns once the listener has closed.
    public func closed() async throws {
        try await self.channel.closeFuture.get()
    }
}
