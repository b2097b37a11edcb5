import ArgumentParser
import Foundation
import KMSDomain
import KMSRPC
import KMSServer
import KMSStore
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the binary KMS protocol until SIGTERM or SIGINT.",
        discussion: """
            Every option can also come from the environment as KMSD_<NAME> (e.g. KMSD_DATABASE_URL, \
            which keeps the database password off the command line) or from --config FILE (JSON \
            with the camelCase names: listen, databaseURL, workerSocket, region, regions, account, ...).
            """
    )

    @Option(help: "A JSON settings file.") var config: String?
    @Option(help: "Address to listen on, host:port (KMSD_LISTEN). Default 127.0.0.1:7400.") var listen: String?
    @Option(
        name: .customLong("database-url"),
        help: "postgres://user@host:port/database, no password: see --database-url-file (KMSD_DATABASE_URL).")
    var databaseURL: String?
    @Option(
        name: .customLong("database-url-file"),
        help: "A file holding postgres://user:password@host:port/database (KMSD_DATABASE_URL_FILE).")
    var databaseURLFile: String?
    @Option(help: "kms-cryptod's Unix socket (KMSD_WORKER_SOCKET).") var workerSocket: String?
    @Option(help: "ARN partition (KMSD_PARTITION). Default aws.") var partition: String?
    @Option(help: "The region callers act in by default (KMSD_REGION). Default us-east-1.") var region: String?
    @Option(help: "Every region served, comma separated (KMSD_REGIONS). Default: just --region.") var regions: String?
    @Option(help: "The 12-digit account callers act in (KMSD_ACCOUNT). Default 111122223333.") var account: String?
    @Option(help: "Largest frame accepted, bytes (KMSD_MAX_FRAME_LENGTH). Default 65536.") var maxFrameLength: Int?
    @Option(help: "Connections to kms-cryptod (KMSD_WORKER_CONNECTIONS). Default 4.") var workerConnections: Int?
    @Option(
        help: ArgumentHelp(
            "Event loop threads, which serve every connection (KMSD_EVENT_LOOP_THREADS). Default: one per core. "
                + "Fewer when kmsd shares its cores with kms-cryptod and PostgreSQL (README, \"Processes\")."))
    var eventLoopThreads: Int?
    @Option(
        help:
            ArgumentHelp(
                "Seconds a request waits for kms-cryptod before it fails with a retryable DependencyTimeoutException; "
                    + "key pair generation gets 6 times as long (KMSD_WORKER_TIMEOUT_SECONDS). Default 5.")
    ) var workerTimeoutSeconds: Int?
    @Option(help: "Most PostgreSQL connections (KMSD_DATABASE_CONNECTIONS). Default 20.") var databaseConnections: Int?
    @Option(help: "Longest a cached key lives without a change notification, seconds (KMSD_CACHE_SECONDS). Default 30.")
    var cacheSeconds: Int?
    @Option(help: "Seconds between deletion reaper rounds (KMSD_REAPER_INTERVAL_SECONDS). Default 60.")
    var reaperIntervalSeconds: Int?
    @Option(help: "Seconds between automatic rotation rounds (KMSD_ROTATION_INTERVAL_SECONDS). Default 60.")
    var rotationIntervalSeconds: Int?
    @Option(
        help: "Seconds between looks for a root key re-wrap job to resume (KMSD_REWRAP_INTERVAL_SECONDS). Default 5.")
    var rewrapIntervalSeconds: Int?
    @Option(
        help:
            ArgumentHelp(
                "Seconds between writes of request counts; a crash loses at most this much (KMSD_USAGE_FLUSH_SECONDS). "
                    + "Default 10.")
    ) var usageFlushSeconds: Int?
    @Option(
        help:
            ArgumentHelp(
                "Seconds a request waits for its audit record to be committed before it fails, retryable, with its "
                    + "result withheld (KMSD_AUDIT_TIMEOUT_SECONDS). Default 5.")
    ) var auditTimeoutSeconds: Int?
    @Option(
        help:
            ArgumentHelp(
                "Seconds a request may take in kmsd, every wait included (database, kms-cryptod, its audit record), "
                    + "before it fails, retryable; operations that may generate a key pair get 6 times as long "
                    + "(KMSD_REQUEST_TIMEOUT_SECONDS). Default 8, below KMSClient's 10.")
    ) var requestTimeoutSeconds: Int?
    @Option(
        help:
            ArgumentHelp(
                "This kmsd's audit chain: its records link only to one another, so replicas never wait on one another "
                    + "(KMSD_AUDIT_CHAIN; 1-128 of letters, digits, '.', '_', '-'). Default: the host name (the "
                    + "pod's name on Kubernetes).")
    ) var auditChain: String?
    @Option(
        help:
            ArgumentHelp(
                "Milliseconds between checkpoints of this kmsd's audit chain by kms-cryptod: a batch of records brings "
                    + "one when the last is this old, and records left without one get theirs this long after it; 0: "
                    + "every batch (KMSD_AUDIT_CHECKPOINT_MS). Default 100.")
    ) var auditCheckpointMs: Int?
    @Option(
        help:
            ArgumentHelp(
                "Seconds after which this kmsd chains the audit records another kmsd committed with its changes and "
                    + "left unchained (it was killed, and its chain, a pod's name, does not come back) "
                    + "(KMSD_AUDIT_ADOPT_AFTER_SECONDS; 1-86400). Default 300.")
    ) var auditAdoptAfterSeconds: Int?
    @Option(
        help:
            ArgumentHelp(
                "Seconds between writes of keys' last use; a crash loses at most this much "
                    + "(KMSD_LAST_USE_FLUSH_SECONDS). Default 10.")
    ) var lastUseFlushSeconds: Int?
    @Option(help: "trace, debug, info, notice, warning, error (KMSD_LOG_LEVEL). Default info.") var logLevel: String?
    @Option(help: "Once listening, write the bound host:port to this file (for --listen with port 0).") var readyFile:
        String?
    @Option(help: "PEM certificate chain for TLS on the listener (KMSD_TLS_CERTIFICATE).") var tlsCertificate: String?
    @Option(help: "PEM private key for TLS (KMSD_TLS_KEY).") var tlsKey: String?
    @Option(help: "PEM CA whose client certificates are accepted (mutual TLS) (KMSD_TLS_CLIENT_CA).") var tlsClientCa:
        String?
    @Option(
        help: ArgumentHelp(
            "PEM CAs that external key store (XKS) proxies' certificates must chain to (KMSD_XKS_CA_FILE); default: "
                + "the system's."))
    var xksCaFile: String?
    @Option(
        name: .customLong("certificate-principal"),
        help:
            ArgumentHelp(
                "URI=ARN: a client certificate with this URI SAN (a SPIFFE id; a trailing * matches any suffix) acts "
                    + "as this principal. Repeatable.")
    ) var certificatePrincipals: [String] = []
    @Option(
        help:
            ArgumentHelp(
                "Serve Prometheus metrics at GET /metrics, and the probes GET /healthz and GET /readyz, on host:port "
                    + "(KMSD_METRICS_LISTEN). Default: not served.")
    ) var metricsListen: String?
    @Option(
        help:
            ArgumentHelp(
                "Seconds kmsd keeps accepting connections after SIGTERM made /readyz answer 503, for load balancers "
                    + "to notice (KMSD_SHUTDOWN_DELAY_SECONDS). Default 0.")
    ) var shutdownDelaySeconds: Int?
    @Option(
        help:
            ArgumentHelp(
                "Seconds open connections get after SIGTERM to finish their requests once the listeners stopped "
                    + "accepting; then they are closed (KMSD_SHUTDOWN_GRACE_SECONDS). Default 20.")
    ) var shutdownGraceSeconds: Int?
    @Option(
        name: .customLong("aws-json-listen"),
        help:
            ArgumentHelp(
                "Serve the AWS JSON API (aws CLI, boto3, AWS SDKs) on host:port, HTTPS when TLS is configured "
                    + "(KMSD_AWS_JSON_LISTEN). Default: not served.")
    ) var awsJSONListen: String?
    @Option(
        help:
            ArgumentHelp(
                "Requests a second one principal may make, as RATE or RATE/BURST; past it, ThrottlingException "
                    + "(KMSD_MAX_REQUESTS_PER_PRINCIPAL). Default: unlimited.")
    ) var maxRequestsPerPrincipal: String?
    @Option(
        help:
            ArgumentHelp(
                "Requests a second from one source address, as RATE or RATE/BURST, counted before authentication "
                    + "(KMSD_MAX_REQUESTS_PER_SOURCE). Default: unlimited.")
    ) var maxRequestsPerSource: String?
    @Option(
        name: .customLong("aws-json-host"),
        help:
            ArgumentHelp(
                "A Host the AWS JSON API answers to: NAME, NAME:PORT, [IPv6]:PORT or *.DOMAIN; a request signed for "
                    + "any other is refused. Repeatable (KMSD_AWS_JSON_HOSTS, comma separated). Default: the TLS "
                    + "certificate's "
                    + "DNS and IP names and the listen address (every interface's address and the host name when "
                    + "listening on all).")
    ) var awsJSONHosts: [String] = []
    @Option(
        help:
            ArgumentHelp(
                "The uid kms-cryptod runs as; kmsd talks to nothing else on the worker socket (KMSD_WORKER_UID). "
                    + "Default: kmsd's own uid.")
    ) var workerUid: UInt32?
    @Option(
        name: .customLong("peer-region"),
        help:
            ArgumentHelp(
                "REGION=KEY: a region served by another deployment, which multi-Region keys replicate to through "
                    + "PostgreSQL's logical replication; KEY is its kms-cryptod's transport key (base64, as "
                    + "`kms-cryptod transport-key` prints it). Repeatable (KMSD_PEER_REGIONS, comma separated).")
    ) var peerRegions: [String] = []
    @Flag(
        help:
            ArgumentHelp(
                "Import the multi-Region replicas that peer deployments replicate to the regions served here "
                    + "(KMSD_IMPORT_FROM_PEERS=1). On by itself with --peer-region.")
    ) var importFromPeers = false
    @Option(
        help:
            ArgumentHelp(
                "Milliseconds between rounds of multi-Region replication with peer deployments "
                    + "(KMSD_PEER_REPLICATION_INTERVAL_MS; 10-600000). Default 1000.")
    ) var peerReplicationIntervalMs: Int?
    @Flag(help: "DEVELOPMENT ONLY: serve connections that present no credentials as the default account's root.")
    var insecureDevNoAuth = false

    func run() async throws {
        let file = try SettingsFile.load(config ?? environment("CONFIG"))
        func pick<T>(_ flag: T?, _ env: String, _ fromFile: T?, _ parse: (String) -> T?) -> T? {
            flag ?? environment(env).flatMap(parse) ?? fromFile
        }
        // First: NIO's group must not have been used before its size is set. A value that is not a
        // number is refused, not read as the default.
        let loops = pick(eventLoopThreads, "EVENT_LOOP_THREADS", file.eventLoopThreads, { Int($0) ?? 0 })
        if let loops, !EventLoopThreads.range.contains(loops) {
            throw ValidationError(EventLoopThreads.invalid("--event-loop-threads (KMSD_EVENT_LOOP_THREADS)"))
        }
        EventLoopThreads.apply(loops)
        let listenText = pick(listen, "LISTEN", file.listen, { $0 }) ?? "127.0.0.1:7400"
        guard let (host, port) = ListenAddress.split(listenText) else {
            throw ValidationError("--listen must be host:port, not '\(listenText)'")
        }
        guard
            let databaseURL = try DatabaseURLSetting.resolve(
                flag: self.databaseURL, flagFile: self.databaseURLFile, configURL: file.databaseURL,
                configFile: file.databaseURLFile)
        else {
            throw ValidationError(DatabaseURLSetting.missing)
        }
        guard let workerSocket = pick(self.workerSocket, "WORKER_SOCKET", file.workerSocket, { $0 }) else {
            throw ValidationError("kms-cryptod's socket is required: --worker-socket or KMSD_WORKER_SOCKET")
        }
        let region = pick(self.region, "REGION", file.region, { $0 }) ?? "us-east-1"
        let regionList =
            pick(
                self.regions.map { $0.split(separator: ",").map(String.init) }, "REGIONS", file.regions,
                { $0.split(separator: ",").map(String.init) }) ?? []
        let account = pick(self.account, "ACCOUNT", file.account, { $0 }) ?? "111122223333"
        guard Account.isValid(account) else { throw ValidationError("the account must be 12 digits, not '\(account)'") }
        let partition = pick(self.partition, "PARTITION", file.partition, { $0 }) ?? "aws"
        let level = pick(logLevel, "LOG_LEVEL", file.logLevel, { $0 }) ?? "info"
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw ValidationError("unknown log level '\(level)'")
        }

        var settings = KMSDaemon.Settings()
        settings.listenHost = host
        settings.listenPort = port
        settings.workerSocket = workerSocket
        settings.workerConnections = max(
            1, pick(workerConnections, "WORKER_CONNECTIONS", file.workerConnections, { Int($0) }) ?? 4)
        settings.workerTimeout = .seconds(
            max(1, pick(workerTimeoutSeconds, "WORKER_TIMEOUT_SECONDS", file.workerTimeoutSeconds, { Int($0) }) ?? 5))
        settings.rpc.maxFrameLength =
            pick(maxFrameLength, "MAX_FRAME_LENGTH", file.maxFrameLength, { Int($0) }) ?? 64 * 1024
        guard (1024...(16 << 20)).contains(settings.rpc.maxFrameLength) else {
            throw ValidationError("the frame limit must be between 1024 and 16777216 bytes")
        }
        settings.cacheLifetime = .seconds(
            max(1, pick(cacheSeconds, "CACHE_SECONDS", file.cacheSeconds, { Int($0) }) ?? 30))
        settings.reaperInterval = .seconds(
            max(
                1, pick(reaperIntervalSeconds, "REAPER_INTERVAL_SECONDS", file.reaperIntervalSeconds, { Int($0) }) ?? 60
            ))
        settings.rotationInterval = .seconds(
            max(
                1,
                pick(rotationIntervalSeconds, "ROTATION_INTERVAL_SECONDS", file.rotationIntervalSeconds, { Int($0) })
                    ?? 60))
        settings.rewrapInterval = .seconds(
            max(1, pick(rewrapIntervalSeconds, "REWRAP_INTERVAL_SECONDS", file.rewrapIntervalSeconds, { Int($0) }) ?? 5)
        )
        settings.usageFlushInterval = .seconds(
            max(1, pick(usageFlushSeconds, "USAGE_FLUSH_SECONDS", file.usageFlushSeconds, { Int($0) }) ?? 10))
        settings.auditTimeout = .seconds(
            max(1, pick(auditTimeoutSeconds, "AUDIT_TIMEOUT_SECONDS", file.auditTimeoutSeconds, { Int($0) }) ?? 5))
        settings.requestTimeout = .seconds(
            max(1, pick(requestTimeoutSeconds, "REQUEST_TIMEOUT_SECONDS", file.requestTimeoutSeconds, { Int($0) }) ?? 8)
        )
        settings.auditChain = pick(auditChain, "AUDIT_CHAIN", file.auditChain, { $0 }) ?? Self.hostChain()
        let checkpointMs = pick(auditCheckpointMs, "AUDIT_CHECKPOINT_MS", file.auditCheckpointMs, { Int($0) }) ?? 100
        guard (0...60_000).contains(checkpointMs) else {
            throw ValidationError("--audit-checkpoint-ms must be 0..60000")
        }
        settings.auditCheckpointInterval = .milliseconds(checkpointMs)
        let adoptAfter =
            pick(auditAdoptAfterSeconds, "AUDIT_ADOPT_AFTER_SECONDS", file.auditAdoptAfterSeconds, { Int($0) }) ?? 300
        guard (1...86_400).contains(adoptAfter) else {
            throw ValidationError("--audit-adopt-after-seconds must be 1..86400")
        }
        settings.auditAdoptAfter = .seconds(adoptAfter)
        guard AuditStore.isValidChain(settings.auditChain) else {
            throw ValidationError("the audit chain must be 1 to 128 of letters, digits, '.', '_' and '-'")
        }
        settings.lastUsageFlushInterval = .seconds(
            max(1, pick(lastUseFlushSeconds, "LAST_USE_FLUSH_SECONDS", file.lastUseFlushSeconds, { Int($0) }) ?? 10))
        if let certificate = pick(tlsCertificate, "TLS_CERTIFICATE", file.tlsCertificate, { $0 }) {
            guard let key = pick(tlsKey, "TLS_KEY", file.tlsKey, { $0 }) else {
                throw ValidationError("--tls-certificate needs --tls-key")
            }
            // Flags replace the file's mapping for a URI they name; a URI given twice on the
            // command line with two principals is a mistake, not "the last one wins".
            var mapping = file.certificatePrincipals ?? [:]
            var fromFlags: [String: String] = [:]
            for entry in certificatePrincipals {
                guard let equals = entry.firstIndex(of: "="), entry[..<equals].contains(":"),
                    entry[entry.index(after: equals)...].hasPrefix("arn:")
                else {
                    throw ValidationError("--certificate-principal must be URI=ARN, not '\(entry)'")
                }
                let (uri, principal) = (String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
                if let other = fromFlags[uri], other != principal {
                    throw ValidationError("--certificate-principal maps \(uri) to both \(other) and \(principal)")
                }
                fromFlags[uri] = principal
                mapping[uri] = principal
            }
            if let pattern = mapping.keys.first(where: { $0.dropLast().contains("*") }) {
                throw ValidationError("a certificate principal pattern may have '*' only at its end, not '\(pattern)'")
            }
            let clientCA = pick(tlsClientCa, "TLS_CLIENT_CA", file.tlsClientCA, { $0 })
            if !mapping.isEmpty, clientCA == nil {
                throw ValidationError("--certificate-principal needs --tls-client-ca to verify client certificates")
            }
            settings.tls = ServerTLS(
                certificatePath: certificate, privateKeyPath: key, clientCAPath: clientCA,
                certificatePrincipals: mapping)
        } else if tlsKey != nil || tlsClientCa != nil || !certificatePrincipals.isEmpty {
            throw ValidationError("--tls-key, --tls-client-ca and --certificate-principal need --tls-certificate")
        }
        if let text = pick(awsJSONListen, "AWS_JSON_LISTEN", file.awsJSONListen, { $0 }) {
            guard let (jsonHost, jsonPort) = ListenAddress.split(text) else {
                throw ValidationError("--aws-json-listen must be host:port, not '\(text)'")
            }
            settings.awsJSONHost = jsonHost
            settings.awsJSONPort = jsonPort
        }
        settings.xksCAFile = pick(xksCaFile, "XKS_CA_FILE", file.xksCAFile, { $0 })
        let hostList =
            awsJSONHosts.isEmpty
            ? pick(
                nil, "AWS_JSON_HOSTS", file.awsJSONHosts,
                { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } })
            : awsJSONHosts
        if let hostList {
            do {
                try AWSJSONEndpoint.checkHostNames(hostList)
            } catch {
                throw ValidationError("--aws-json-host: \(error.message)")
            }
            guard !hostList.isEmpty else { throw ValidationError("--aws-json-host needs at least one name") }
            settings.awsJSONHosts = hostList
        }
        settings.workerUID = pick(workerUid, "WORKER_UID", file.workerUID, { UInt32($0) })
        if let text = pick(metricsListen, "METRICS_LISTEN", file.metricsListen, { $0 }) {
            guard let (metricsHost, metricsPort) = ListenAddress.split(text) else {
                throw ValidationError("--metrics-listen must be host:port, not '\(text)'")
            }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            // The library's buckets start at 5 ms; requests, worker calls and audit commits here
            // mostly take less, and would all land in the first bucket.
            factory.defaultDurationHistogramBuckets = [
                .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            ]
            factory.valueHistogramBuckets["kms_audit_batch_records"] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000]
            MetricsSystem.bootstrap(factory)
            settings.metricsHost = metricsHost
            settings.metricsPort = metricsPort
            settings.renderMetrics = { registry.emitToBuffer() }
        }
        let shutdownDelay =
            pick(shutdownDelaySeconds, "SHUTDOWN_DELAY_SECONDS", file.shutdownDelaySeconds, { Int($0) }) ?? 0
        let shutdownGrace =
            pick(shutdownGraceSeconds, "SHUTDOWN_GRACE_SECONDS", file.shutdownGraceSeconds, { Int($0) }) ?? 20
        guard (0...3600).contains(shutdownDelay), (0...3600).contains(shutdownGrace) else {
            throw ValidationError("--shutdown-delay-seconds and --shutdown-grace-seconds must be 0..3600")
        }
        settings.shutdownDelay = .seconds(shutdownDelay)
        settings.shutdownGrace = .seconds(shutdownGrace)
        settings.principalRate = try Self.rate(
            pick(maxRequestsPerPrincipal, "MAX_REQUESTS_PER_PRINCIPAL", file.maxRequestsPerPrincipal, { $0 }),
            "--max-requests-per-principal")
        settings.sourceRate = try Self.rate(
            pick(maxRequestsPerSource, "MAX_REQUESTS_PER_SOURCE", file.maxRequestsPerSource, { $0 }),
            "--max-requests-per-source")
        settings.insecureNoAuthentication =
            insecureDevNoAuth || environment("INSECURE_DEV_NO_AUTH") == "1" || file.insecureDevNoAuth == true
        let connections = max(
            2, pick(databaseConnections, "DATABASE_CONNECTIONS", file.databaseConnections, { Int($0) }) ?? 20)

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "kmsd")
        // After MetricsSystem.bootstrap: its handles are made over the exporting factory.
        let metrics = ServiceMetrics()
        metrics.setDatabasePoolSize(connections)
        let client = PostgresClient(
            configuration: try DatabaseConfiguration.parse(url: databaseURL, maximumConnections: connections),
            backgroundLogger: logger
        )
        var scope = ServiceScope(
            partition: partition, regions: Set(regionList), defaultRegion: region, defaultAccount: account)
        // Related multi-Region keys are told apart by a 16-bit code of their region (KeyID+MultiRegion).
        if let (first, second) = KeyID.regionCodeClash(scope.regions) {
            throw ValidationError(
                "regions \(first) and \(second) cannot both be served (their multi-Region key codes clash)")
        }
        let peerEntries =
            peerRegions.isEmpty
            ? pick(
                nil, "PEER_REGIONS", file.peerRegions.map { $0.map { "\($0.key)=\($0.value)" } },
                { $0.split(separator: ",").map(String.init) }) ?? [] : peerRegions
        scope.peerRegions = try Self.peerRegions(peerEntries, served: scope.regions)
        settings.importsFromPeers =
            importFromPeers || environment("IMPORT_FROM_PEERS") == "1" || file.importFromPeers == true
        let replicationMs =
            pick(
                peerReplicationIntervalMs, "PEER_REPLICATION_INTERVAL_MS", file.peerReplicationIntervalMs, { Int($0) })
            ?? 1000
        guard (10...600_000).contains(replicationMs) else {
            throw ValidationError("--peer-replication-interval-ms must be 10..600000")
        }
        settings.peerReplicationInterval = .milliseconds(replicationMs)
        let readyFile = self.readyFile
        // One group for the whole process: the database client, kmsd, and the listeners and
        // background jobs kmsd adds to it once the database is ready. A job that fails ends
        // the group (a graceful shutdown, then `run` throws: a non-zero exit) unless it is one
        // that is restarted (see KMSDaemon.jobs).
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: client)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        // Every step of the shutdown is bounded; this bounds them all, for what waits where
        // nothing should (ShutdownDeadline).
        let shutdownDeadline = ShutdownDeadline(
            limit: settings.shutdownDelay + settings.shutdownGrace + ShutdownDeadline.afterDrain, logger: logger)
        let daemon = KMSDaemon(
            settings: settings, scope: scope, client: client, group: group, logger: logger, metrics: metrics,
            shutdownDeadline: shutdownDeadline
        ) { address, awsJSON in
            guard let readyFile, let port = address.port else { return }
            // Line 1: the binary protocol; line 2, when served: the AWS JSON endpoint.
            var text = "\(address.ipAddress ?? host):\(port)\n"
            if let awsJSON, let jsonPort = awsJSON.port { text += "\(awsJSON.ipAddress ?? host):\(jsonPort)\n" }
            // Written whole under a temporary name, then renamed: a reader never sees half of it.
            try? text.write(toFile: readyFile + ".tmp", atomically: false, encoding: .utf8)
            _ = rename(readyFile + ".tmp", readyFile)
        }
        await group.addServiceUnlessShutdown(daemon.configuration)
        defer { shutdownDeadline.completed() }
        try await group.run()
    }

    /// "RATE" or "RATE/BURST", both positive numbers.
    static func rate(_ text: String?, _ option: String) throws -> RequestLimiter.Rate? {
        guard let text else { return nil }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let perSecond = Double(parts[0]), perSecond > 0,
            parts.count == 1 || Double(parts[1]).map({ $0 >= 1 }) == true
        else { throw ValidationError("\(option) must be RATE or RATE/BURST (positive numbers), not '\(text)'") }
        return RequestLimiter.Rate(perSecond: perSecond, burst: parts.count == 2 ? Double(parts[1]) : nil)
    }

    /// `--peer-region` entries, REGION=KEY: a region not served here, and a transport key.
    static func peerRegions(_ entries: [String], served: Set<String>) throws -> [String: [UInt8]] {
        var peers: [String: [UInt8]] = [:]
        for entry in entries {
            guard let equals = entry.firstIndex(of: "=") else {
                throw ValidationError("--peer-region must be REGION=KEY, not '\(entry.prefix(40))'")
            }
            let region = String(entry[..<equals]).trimmingCharacters(in: .whitespaces)
            let text = String(entry[entry.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            guard !region.isEmpty, let key = Data(base64Encoded: text), (64...256).contains(key.count) else {
                throw ValidationError("--peer-region \(region): KEY must be a transport key as kms-cryptod prints it")
            }
            guard !served.contains(region) else {
                throw ValidationError("--peer-region \(region) is a region this deployment serves")
            }
            guard peers[region] == nil else { throw ValidationError("--peer-region \(region) is given twice") }
            peers[region] = Array(key)
        }
        return peers
    }

    /// The host name as a chain id: each replica (each pod) its own chain without configuration.
    static func hostChain() -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        let name = String(ProcessInfo.processInfo.hostName.map { allowed.contains($0) ? $0 : "-" }.prefix(128))
        return name.isEmpty ? AuditRecord.defaultChain : name
    }
}
