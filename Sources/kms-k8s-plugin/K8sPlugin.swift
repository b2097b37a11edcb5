import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import KMSClient
import KMSKubernetes
import KMSRPC
import Logging
import NIOCore
import ServiceLifecycle

/// kube-apiserver's KMS v2 provider (EncryptionConfiguration `kms`, apiVersion v2): gRPC on a
/// Unix socket, wrapping the apiserver's DEK seeds under one of our keys through kmsd.
@main
struct K8sPlugin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kms-k8s-plugin",
        abstract: "Serve the Kubernetes KMS v2 plugin API on a Unix socket, over a key of kmsd.",
        discussion: """
            Authenticates to kmsd with an access key from a credentials file, or a client certificate \
            (mutual TLS); either is re-read when its files change. Each flag may also be given as \
            KMS_K8S_PLUGIN_ and the flag's name in capitals with _ for - (a flag wins).
            """
    )

    @OptionGroup var connection: KMSConnectionOptions

    @Option(help: "The Unix socket the apiserver's EncryptionConfiguration names (KMS_K8S_PLUGIN_SOCKET).")
    var socket: String?

    @Option(
        help: ArgumentHelp(
            "The socket's mode, octal: 0600 lets only its owner (kube-apiserver as root) connect; 0660 with "
                + "--socket-group lets that group (a non-root apiserver) in (KMS_K8S_PLUGIN_SOCKET_MODE). Default 0600."
        ))
    var socketMode: String?

    @Option(help: "The socket's group, a numeric gid (KMS_K8S_PLUGIN_SOCKET_GROUP). Default: the plugin's.")
    var socketGroup: UInt32?

    @Option(help: "The key that wraps new DEK seeds: key id, ARN, alias name or alias ARN (KMS_K8S_PLUGIN_KEY_ID).")
    var keyId: String?

    @Option(help: "The cluster's name, bound into every ciphertext's encryption context (KMS_K8S_PLUGIN_CLUSTER_NAME).")
    var clusterName: String?

    @Option(
        help: ArgumentHelp(
            "A further key ARN whose ciphertexts are decrypted (a key the cluster moved away from); repeat for "
                + "several (KMS_K8S_PLUGIN_DECRYPT_KEY_ARNS, comma separated)."))
    var decryptKeyArn: [String] = []

    @Option(help: "The domain of the annotation keys (KMS_K8S_PLUGIN_ANNOTATION_DOMAIN). Default kms-plugin.internal.")
    var annotationDomain: String?

    @Option(help: "Seconds a Status answer is reused, 1-300 (KMS_K8S_PLUGIN_STATUS_CACHE_SECONDS). Default 5.")
    var statusCacheSeconds: Int?

    @Option(
        help: ArgumentHelp(
            "Milliseconds a call to kmsd may take, 100-30000; keep it under the EncryptionConfiguration's timeout "
                + "(KMS_K8S_PLUGIN_TIMEOUT_MS). Default 2000."))
    var timeoutMs: Int?

    @Option(
        help: "Serve GET /healthz and GET /readyz on host:port (KMS_K8S_PLUGIN_HEALTH_LISTEN). Default: not served.")
    var healthListen: String?

    mutating func validate() throws {
        let environment = SidecarEnvironment(prefix: "KMS_K8S_PLUGIN_")
        func env(_ name: String) -> String? { environment.string(name) }
        func integer(_ name: String) throws -> Int? { try environment.integer(name) }
        try connection.resolve(environment)
        socket = socket ?? env("SOCKET")
        socketMode = socketMode ?? env("SOCKET_MODE") ?? "0600"
        if socketGroup == nil, let text = env("SOCKET_GROUP") {
            guard let gid = UInt32(text) else { throw ValidationError("KMS_K8S_PLUGIN_SOCKET_GROUP must be a gid") }
            socketGroup = gid
        }
        keyId = keyId ?? env("KEY_ID")
        clusterName = clusterName ?? env("CLUSTER_NAME")
        if decryptKeyArn.isEmpty, let list = env("DECRYPT_KEY_ARNS") {
            decryptKeyArn = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        annotationDomain = annotationDomain ?? env("ANNOTATION_DOMAIN") ?? "kms-plugin.internal"
        statusCacheSeconds = try statusCacheSeconds ?? integer("STATUS_CACHE_SECONDS") ?? 5
        timeoutMs = try timeoutMs ?? integer("TIMEOUT_MS") ?? 2000
        healthListen = healthListen ?? env("HEALTH_LISTEN")

        for (flag, value) in [("--socket", socket), ("--key-id", keyId), ("--cluster-name", clusterName)]
        where (value ?? "").isEmpty {
            throw ValidationError("\(flag) is required")
        }
        // Owner and group bits only: a KMS socket is never open to every local user.
        guard let mode = UInt32(socketMode ?? "", radix: 8), mode & 0o007 == 0, mode & 0o600 == 0o600 else {
            throw ValidationError("--socket-mode must be octal, 0600 to 0660, with nothing for others")
        }
        guard let clusterName, (1...255).contains(clusterName.utf8.count) else {
            throw ValidationError("--cluster-name must be 1 to 255 bytes")
        }
        guard KMSv2PluginSettings.isValidAnnotationDomain(annotationDomain ?? "") else {
            throw ValidationError("--annotation-domain must be a DNS subdomain (lower case letters, digits, '-', '.')")
        }
        guard decryptKeyArn.allSatisfy({ $0.hasPrefix("arn:") && $0.contains(":key/") }) else {
            throw ValidationError("--decrypt-key-arn takes key ARNs (arn:PARTITION:kms:REGION:ACCOUNT:key/ID)")
        }
        guard (1...300).contains(statusCacheSeconds ?? 0) else {
            throw ValidationError("--status-cache-seconds must be 1..300")
        }
        guard (100...30_000).contains(timeoutMs ?? 0) else { throw ValidationError("--timeout-ms must be 100..30000") }
        if let healthListen, ListenAddress.split(healthListen) == nil {
            throw ValidationError("--health-listen must be host:port, not '\(healthListen)'")
        }
    }

    func run() async throws {
        // validate() filled every setting below.
        let logger = connection.bootstrapLogging(label: "kms-k8s-plugin")
        let timeout = Duration.milliseconds(timeoutMs ?? 2000)
        var settings = KMSv2PluginSettings(keyID: keyId ?? "", clusterName: clusterName ?? "")
        settings.decryptKeyARNs = decryptKeyArn
        settings.annotationDomain = annotationDomain ?? settings.annotationDomain
        settings.statusLifetime = .seconds(statusCacheSeconds ?? 5)
        settings.callTimeout = timeout

        var client = KMSClient.Configuration()
        client.connections = 2
        // One try per call within the plugin's timeout: the apiserver retries, and its deadline is short.
        client.maxAttempts = 1
        client.timeout = .milliseconds(Int64(timeoutMs ?? 2000))
        let source = connection.source(client)
        let clients = try ReloadingKMSClient(source, logger: logger)
        let service = KMSv2PluginService(settings: settings, clients: clients, logger: logger)

        let path = socket ?? ""
        try Self.removeStaleSocket(at: path)
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .unixDomainSocket(path: path), transportSecurity: .plaintext,
                config: .defaults { config in
                    // The apiserver sends a 32-byte seed or a ciphertext under 1 kB with its
                    // annotations (under 32 kB): anything much larger is refused by the transport.
                    config.rpc.maxRequestPayloadSize = 64 * 1024
                }),
            services: [service])
        var health: (any Channel)?
        if let healthListen, let (host, port) = ListenAddress.split(healthListen) {
            // The plugin's own cached check, asked at most once a second (Readiness's window).
            let readiness = Readiness(checks: [
                {
                    let (healthy, reason) = await service.isHealthy()
                    return healthy ? [] : [Readiness.Failure("kmsd", reason)]
                }
            ])
            health = try await ProbeEndpoint.bind(
                to: try SocketAddress.makeAddressResolvingHost(host, port: port),
                routes: [
                    "/healthz": { .alive },
                    "/readyz": { await readiness.report().answer },
                ])
        }
        logger.notice(
            "serving",
            metadata: [
                "socket": "\(path)", "key": "\(settings.keyID)", "cluster": "\(settings.clusterName)",
                "endpoint": "\(source.endpoint)",
            ])
        let mode = mode_t(UInt32(socketMode ?? "0600", radix: 8) ?? 0o600)
        let group = ServiceGroup(
            services: [
                PluginServer(server: server, socketPath: path, mode: mode, group: socketGroup.map { gid_t($0) })
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        try? await health?.close()
        await clients.close()
        unlink(path)
        logger.notice("stopped")
    }

    /// A socket file left by a plugin that was killed; anything else at the path is refused.
    static func removeStaleSocket(at path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw ValidationError("\(path) exists and is not a socket; refusing to replace it")
        }
        unlink(path)
    }
}

/// The gRPC server as a service of the process's group: SIGTERM lets the calls in flight finish.
/// The socket gets its mode and group once it is bound (until then the umask's, which lets no one
/// but the owner connect); a failure there stops the plugin rather than serve on the wrong mode.
struct PluginServer: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let socketPath: String
    let mode: mode_t
    let group: gid_t?

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { tasks in
                tasks.addTask { try await self.server.serve() }
                _ = try await self.server.listeningAddress
                if let group = self.group, chown(self.socketPath, uid_t.max, group) != 0 {
                    throw ValidationError("cannot give \(self.socketPath) group \(group): errno \(errno)")
                }
                guard chmod(self.socketPath, self.mode) == 0 else {
                    throw ValidationError("cannot set the mode of \(self.socketPath): errno \(errno)")
                }
            }
        } onGracefulShutdown: {
            self.server.beginGracefulShutdown()
        }
    }
}
