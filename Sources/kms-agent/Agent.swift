import ArgumentParser
import Foundation
import KMSClient
import KMSKubernetes
import KMSRPC
import Logging
import NIOCore
import ServiceLifecycle

/// The workload sidecar: the AWS KMS JSON API on the pod's loopback, served through kmsd under
/// the pod's identity, with optional bounded caches.
@main
struct Agent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kms-agent",
        abstract: "Serve the AWS KMS JSON API on the pod's loopback, through kmsd under the pod's identity.",
        discussion: """
            Point the application's AWS SDK or aws CLI at it with AWS_ENDPOINT_URL_KMS=http://127.0.0.1:PORT; \
            it needs no real credentials (any access key lets an SDK sign; the signature is not checked: \
            what reaches the pod's loopback is the pod). The agent authenticates to kmsd with a client \
            certificate (a SPIFFE SVID) or an access key from a file, re-read when they change. Each flag \
            may also be given as KMS_AGENT_ and the flag's name in capitals with _ for - (a flag wins).
            """
    )

    @OptionGroup var connection: KMSConnectionOptions

    @Option(help: "Where to serve, a loopback host:port (KMS_AGENT_LISTEN). Default 127.0.0.1:7481.")
    var listen: String?

    @Option(help: "Cache Decrypt answers this many seconds; 0: off (KMS_AGENT_DECRYPT_CACHE_SECONDS). Default 0.")
    var decryptCacheSeconds: Int?

    @Option(help: "At most this many cached Decrypt answers (KMS_AGENT_DECRYPT_CACHE_ENTRIES). Default 1000.")
    var decryptCacheEntries: Int?

    @Option(
        help: ArgumentHelp(
            "Reuse a GenerateDataKey answer this many seconds; 0: off (KMS_AGENT_DATA_KEY_CACHE_SECONDS). Default 0."))
    var dataKeyCacheSeconds: Int?

    @Option(help: "Hand out a reused data key at most this many times (KMS_AGENT_DATA_KEY_MAX_MESSAGES). Default 100.")
    var dataKeyMaxMessages: Int?

    @Option(
        help: ArgumentHelp(
            "A reused data key protects at most this many bytes, as callers declare in the x-kms-agent-plaintext-bytes "
                + "header; callers that do not are given fresh keys (KMS_AGENT_DATA_KEY_MAX_BYTES). Default: no bound.")
    )
    var dataKeyMaxBytes: Int?

    @Option(help: "At most this many reused data keys (KMS_AGENT_DATA_KEY_CACHE_ENTRIES). Default 100.")
    var dataKeyCacheEntries: Int?

    @Option(help: "Milliseconds a call to kmsd may take, 100-60000 (KMS_AGENT_TIMEOUT_MS). Default 5000.")
    var timeoutMs: Int?

    @Option(
        help: ArgumentHelp(
            "Serve GET /healthz, GET /readyz (kmsd answers the agent's identity) and GET /metrics on host:port "
                + "(KMS_AGENT_HEALTH_LISTEN). Default: not served."))
    var healthListen: String?

    mutating func validate() throws {
        let environment = SidecarEnvironment(prefix: "KMS_AGENT_")
        func env(_ name: String) -> String? { environment.string(name) }
        func integer(_ name: String) throws -> Int? { try environment.integer(name) }
        try connection.resolve(environment)
        listen = listen ?? env("LISTEN") ?? "127.0.0.1:7481"
        decryptCacheSeconds = try decryptCacheSeconds ?? integer("DECRYPT_CACHE_SECONDS") ?? 0
        decryptCacheEntries = try decryptCacheEntries ?? integer("DECRYPT_CACHE_ENTRIES") ?? 1000
        dataKeyCacheSeconds = try dataKeyCacheSeconds ?? integer("DATA_KEY_CACHE_SECONDS") ?? 0
        dataKeyMaxMessages = try dataKeyMaxMessages ?? integer("DATA_KEY_MAX_MESSAGES") ?? 100
        dataKeyMaxBytes = try dataKeyMaxBytes ?? integer("DATA_KEY_MAX_BYTES")
        dataKeyCacheEntries = try dataKeyCacheEntries ?? integer("DATA_KEY_CACHE_ENTRIES") ?? 100
        timeoutMs = try timeoutMs ?? integer("TIMEOUT_MS") ?? 5000
        healthListen = healthListen ?? env("HEALTH_LISTEN")

        guard let (host, _) = ListenAddress.split(listen ?? ""), Self.isLoopback(host) else {
            throw ValidationError(
                "--listen must be a loopback host:port (127.0.0.1, ::1): the agent speaks for the pod to the pod only")
        }
        for (flag, value, range) in [
            ("--decrypt-cache-seconds", decryptCacheSeconds, 0...86_400),
            ("--decrypt-cache-entries", decryptCacheEntries, 1...1_000_000),
            ("--data-key-cache-seconds", dataKeyCacheSeconds, 0...86_400),
            ("--data-key-max-messages", dataKeyMaxMessages, 1...(1 << 32)),
            ("--data-key-cache-entries", dataKeyCacheEntries, 1...100_000),
            ("--timeout-ms", timeoutMs, 100...60_000),
        ] where !range.contains(value ?? -1) {
            throw ValidationError("\(flag) must be \(range.lowerBound)..\(range.upperBound)")
        }
        if let dataKeyMaxBytes, dataKeyMaxBytes < 1 { throw ValidationError("--data-key-max-bytes must be 1 or more") }
        if let healthListen, ListenAddress.split(healthListen) == nil {
            throw ValidationError("--health-listen must be host:port, not '\(healthListen)'")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    func run() async throws {
        // validate() filled every setting below.
        let logger = connection.bootstrapLogging(label: "kms-agent")
        var client = KMSClient.Configuration()
        client.connections = 2
        client.timeout = .milliseconds(Int64(timeoutMs ?? 5000))
        let source = connection.source(client)
        let clients = try ReloadingKMSClient(source, logger: logger)

        var caches = AgentCacheSettings()
        if let seconds = decryptCacheSeconds, seconds > 0 { caches.decryptMaxAge = .seconds(seconds) }
        caches.decryptMaxEntries = decryptCacheEntries ?? caches.decryptMaxEntries
        if let seconds = dataKeyCacheSeconds, seconds > 0 { caches.dataKeyMaxAge = .seconds(seconds) }
        caches.dataKeyMaxMessages = dataKeyMaxMessages ?? caches.dataKeyMaxMessages
        caches.dataKeyMaxBytes = dataKeyMaxBytes
        caches.dataKeyMaxEntries = dataKeyCacheEntries ?? caches.dataKeyMaxEntries
        let endpoint = AgentEndpoint(
            clients: clients, caches: caches, timeout: .milliseconds(timeoutMs ?? 5000), logger: logger)

        guard let (host, port) = ListenAddress.split(listen ?? "") else { throw ValidationError("--listen") }
        let channel = try await endpoint.bind(to: try SocketAddress.makeAddressResolvingHost(host, port: port))
        var health: (any Channel)?
        if let healthListen, let (host, port) = ListenAddress.split(healthListen) {
            // Asked at most once a second, however often the kubelet probes (Readiness's window).
            let readiness = Readiness(checks: [
                {
                    let (ok, reason) = await endpoint.kmsdAnswers()
                    return ok ? [] : [Readiness.Failure("kmsd", reason)]
                }
            ])
            health = try await ProbeEndpoint.bind(
                to: try SocketAddress.makeAddressResolvingHost(host, port: port),
                routes: [
                    "/healthz": { .alive },
                    "/readyz": { await readiness.report().answer },
                    "/metrics": {
                        ProbeEndpoint.Answer(
                            status: 200, contentType: "text/plain; version=0.0.4",
                            body: Array(endpoint.metricsText().utf8))
                    },
                ])
        }
        logger.notice(
            "serving",
            metadata: [
                "listen": "\(channel.localAddress.map { "\($0)" } ?? "?")", "endpoint": "\(source.endpoint)",
                "decrypt_cache": "\(caches.decryptMaxAge.map { "\($0)" } ?? "off")",
                "data_key_cache": "\(caches.dataKeyMaxAge.map { "\($0)" } ?? "off")",
            ])
        let group = ServiceGroup(
            services: [ChannelService(channel: channel)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        try? await health?.close()
        await clients.close()
        logger.notice("stopped")
    }
}

/// The listener as a service of the process's group: SIGTERM closes it.
struct ChannelService: Service {
    let channel: any Channel

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.channel.closeFuture.get()
        } onGracefulShutdown: {
            self.channel.close(promise: nil)
        }
    }
}
