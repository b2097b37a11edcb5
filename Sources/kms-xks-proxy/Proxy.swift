import ArgumentParser
import Foundation
import KMSClient
import KMSRPC
import KMSXKSProxy
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// Serves keys held here to AWS KMS (or any caller of the XKS proxy API) as an external key
/// store: HTTPS, SigV4 for `kms-xks-proxy` with the configured access keys, optional mutual
/// TLS; every call goes to kmsd as this proxy's principal, which the key policy must allow.
@main
struct Proxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kms-xks-proxy", abstract: "An AWS External Key Store (XKS) proxy in front of kmsd.")

    @Option(
        help: "The configuration file (JSON, mode 0600): URI path, access keys, key mapping, TLS. SIGHUP reloads it."
    )
    var config: String

    @Option(help: "Where to serve HTTPS, host:port. Default 0.0.0.0:8443.")
    var listen = "0.0.0.0:8443"

    @Option(help: "kmsd, host:port or tls://host:port (KMS_ENDPOINT). Default 127.0.0.1:7400.")
    var kmsdEndpoint: String?

    @Option(help: "The shared credentials file's profile of the proxy's kmsd access key (AWS_PROFILE).")
    var kmsdProfile: String?

    @Option(help: "CAs to trust for kmsd's certificate, PEM (AWS_CA_BUNDLE).")
    var kmsdCABundle: String?

    @Option(help: "Client certificate for mutual TLS with kmsd, PEM (KMS_CLIENT_CERTIFICATE).")
    var kmsdClientCertificate: String?

    @Option(help: "The client certificate's key, PEM (KMS_CLIENT_KEY).")
    var kmsdClientKey: String?

    @Option(help: "Seconds between looks at the configuration file, reloaded if changed; 0: SIGHUP only. Default 10.")
    var configPollSeconds = 10

    @Option(help: "Milliseconds a call to kmsd may take. Default 2000.")
    var kmsdTimeoutMs = 2000

    @Option(help: "Once listening, write host:port and a newline to this file.")
    var readyFile: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical. Default info (one line per call).")
    var logLevel = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: self.logLevel) else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue))")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "kms-xks-proxy")
        // Before the load: a change between the two is then reloaded, not missed.
        let watch = XKSConfigurationWatch(path: self.config)
        let configuration = try XKSProxyConfiguration.load(path: self.config)
        guard let (host, port) = ListenAddress.split(self.listen) else {
            throw ValidationError("--listen must be host:port, not '\(self.listen)'")
        }
        var clientConfiguration = KMSClient.Configuration()
        clientConfiguration.timeout = .milliseconds(Int64(self.kmsdTimeoutMs))
        let environment = KMSClientEnvironment(
            endpoint: self.kmsdEndpoint, profile: self.kmsdProfile, caBundle: self.kmsdCABundle,
            clientCertificate: self.kmsdClientCertificate, clientKey: self.kmsdClientKey)
        let (endpoint, resolved) = try environment.resolve(clientConfiguration)
        let client = try KMSClient(endpoint: endpoint, configuration: resolved)
        let service = XKSProxyService(
            configuration: configuration, backend: XKSProxyBackend(client: client), logger: logger)
        let server = try await XKSProxyServer.start(
            host: host, port: port, configuration: configuration, service: service)
        let address = "\(server.localAddress.ipAddress ?? host):\(server.localAddress.port ?? port)"
        if let readyFile = self.readyFile {
            try "\(address)\n".write(toFile: readyFile, atomically: true, encoding: .utf8)
        }
        logger.notice(
            "serving",
            metadata: [
                "listen": "\(address)", "uriPath": "\(configuration.uriPath)", "kmsd": "\(endpoint)",
                "mutualTLS": "\(configuration.tls.clientCA != nil)",
                "clientSubjects": "\(configuration.tls.clientCA == nil ? [] : configuration.allowedClientSubjects)",
                "accessKeys": "\(configuration.credentials.map(\.accessKeyId).joined(separator: ","))",
            ])
        let group = ServiceGroup(
            services: [
                ServerService(server: server),
                ReloadService(
                    service: service, watch: watch,
                    poll: .seconds(max(0, self.configPollSeconds))),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        await client.close()
        logger.notice("stopped")
    }
}

/// The listener as a service of the process's group: SIGTERM closes it.
struct ServerService: Service {
    let server: XKSProxyServer

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.server.closed()
        } onGracefulShutdown: {
            Task { try? await self.server.close() }
        }
    }
}

/// SIGHUP, and a look every `poll` (zero: never), reload the configuration file (access keys,
/// key mapping, health check) in place when its content changed.
struct ReloadService: Service {
    let service: XKSProxyService
    let watch: XKSConfigurationWatch
    let poll: Duration

    func run() async throws {
        do {
            _ = try await cancelOnGracefulShutdown { try await self.serve() }
        } catch is CancellationError {
            // Shutting down: the sleep between looks was cut short.
        }
    }

    private func serve() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    self.watch.reloadIfChanged(self.service)
                }
            }
            guard self.poll > .zero else { return }
            group.addTask {
                while true {
                    try await Task.sleep(for: self.poll)
                    self.watch.reloadIfChanged(self.service)
                }
            }
        }
    }
}
