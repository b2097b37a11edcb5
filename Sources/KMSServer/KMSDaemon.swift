import KMSCrypto
import KMSDomain
import KMSRPC
import KMSSigV4
import KMSStore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import ServiceLifecycle

/// kmsd as one service: applies migrations, then adds its listeners and background jobs to the
/// process's ServiceGroup as services of their own (BackgroundJob: a failed job is logged and
/// restarted or ends the process, never dropped). The group shuts services down in the reverse
/// of the order they were added, so a graceful shutdown first drains the listeners
/// (ListenerDrain: not ready, no new connections, open ones finish their requests within the
/// grace period), then stops the periodic jobs, flushes the usage counts and then the key last
/// uses, and only then reaches this service, which closes the audit log and the worker pool.
public struct KMSDaemon: Service {
    /// Everything kmsd's command line and settings file decide; the defaults suit a local development run.
    public struct Settings: Sendable {
        /// The binary protocol's listen address (`--listen`).
        public var listenHost = "127.0.0.1"
        /// The binary protocol's port; 0 picks a free one, which `onListening` reports.
        public var listenPort = 7400
        /// kms-cryptod's Unix socket (`--worker-socket`).
        public var workerSocket = "cryptod.sock"
        /// Connections kept open to kms-cryptod (`--worker-connections`).
        public var workerConnections = 4
        /// How long kmsd waits for kms-cryptod's answer before the request fails, retryable
        /// (slow calls such as RSA key generation get a multiple of it).
        public var workerTimeout: Duration = WorkerPool.defaultTimeout
        /// The binary protocol's framing and timeouts, for both the listener and the worker connections.
        public var rpc = RPCConfiguration()
        /// The longest a cached key, alias or principal lives without a change notification (`--cache-seconds`).
        public var cacheLifetime: Duration = .seconds(30)
        /// The time between deletion reaper rounds (`--reaper-interval-seconds`).
        public var reaperInterval: Duration = .seconds(60)
        /// The time between automatic rotation rounds (`--rotation-interval-seconds`).
        public var rotationInterval: Duration = .seconds(60)
        /// How often remembered key uses are written; a crash loses at most this much of them.
        public var lastUsageFlushInterval: Duration = .seconds(10)
        /// How often request counts are written; a crash loses at most this much of them.
        public var usageFlushInterval: Duration = .seconds(10)
        /// How long a request waits for its audit record to commit before it fails, its result withheld
        /// (`--audit-timeout-seconds`).
        public var auditTimeout: Duration = .seconds(5)
        /// How long a request may take in kmsd, all its waits included (`--request-timeout-seconds`).
        public var requestTimeout: Duration = KMSService.defaultRequestTimeout
        /// This kmsd's audit chain (`--audit-chain`; by default its host name).
        public var auditChain = AuditRecord.defaultChain
        /// Records another chain left in the outbox this long are chained into this kmsd's
        /// (`--audit-adopt-after-seconds`): their kmsd stopped and its chain did not come back.
        public var auditAdoptAfter: Duration = .seconds(300)
        /// A batch of audit records brings kms-cryptod's checkpoint of the chain's head when the
        /// last one is this old (`--audit-checkpoint-ms`; zero: every batch).
        public var auditCheckpointInterval: Duration = .milliseconds(100)
        /// Where to serve GET /metrics, and what it returns; nil: not served.
        public var metricsHost: String?
        /// The metrics listener's port (`--metrics-listen`).
        public var metricsPort = 9400
        /// The metrics body; kmsd's command sets it with `metricsHost`, and nothing is served without both.
        public var renderMetrics: (@Sendable () -> [UInt8])?
        /// How often kmsd looks for a root key re-wrap job to work on.
        public var rewrapInterval: Duration = .seconds(5)
        /// How long kmsd keeps accepting after a SIGTERM made it not ready, for load balancers to
        /// notice (`--shutdown-delay-seconds`).
        public var shutdownDelay: Duration = .zero
        /// How long open connections get to finish their requests once the listeners stopped
        /// accepting; then they are closed (`--shutdown-grace-seconds`).
        public var shutdownGrace: Duration = .seconds(20)
        /// TLS on the listener; nil serves plain TCP (loopback development and tests).
        public var tls: ServerTLS?
        /// Accept connections that present no credentials, as the default account's root.
        /// Development only: kmsd warns loudly when it is on.
        public var insecureNoAuthentication = false
        /// Where to serve the AWS JSON 1.1 API (over TLS when `tls` is set); nil: not served.
        public var awsJSONHost: String?
        /// The AWS JSON endpoint's port (`--aws-json-listen`).
        public var awsJSONPort = 7480
        /// PEM CAs that external key store proxies' certificates must chain to (`--xks-ca-file`);
        /// nil: the system's.
        public var xksCAFile: String?
        /// The AWS JSON endpoint's body size and timeouts.
        public var awsJSONLimits = AWSJSONEndpoint.Limits()
        /// Requests a second (and burst) per calling principal and per source address; nil: unlimited.
        public var principalRate: RequestLimiter.Rate?
        /// The per-source-address limit, checked before authentication (`--max-requests-per-source`).
        public var sourceRate: RequestLimiter.Rate?
        /// The Host header values the AWS JSON endpoint accepts (`SigV4.HostNames` entries);
        /// nil: `AWSJSONEndpoint.defaultHostNames` (the certificate's names, the listen address).
        public var awsJSONHosts: [String]?
        /// The uid kms-cryptod must run as (checked on every worker connection); nil: kmsd's own.
        public var workerUID: UInt32?
        /// Import multi-Region replicas that peer deployments replicate to the regions served
        /// here (`--import-from-peers`; on by itself when `ServiceScope.peerRegions` is not empty).
        public var importsFromPeers = false
        /// The time between rounds of multi-Region replication with peer deployments
        /// (`--peer-replication-interval-ms`).
        public var peerReplicationInterval: Duration = .seconds(1)

        /// Every default: a loopback kmsd without TLS, metrics, the AWS JSON endpoint or request limits.
        public init() {}
    }

    let settings: Settings
    let scope: ServiceScope
    let client: PostgresClient
    let logger: Logger
    let onListening: @Sendable (SocketAddress, SocketAddress?) -> Void
    /// The process's one group, which runs this service: the jobs are added to it.
    let group: ServiceGroup
    let clock: ServiceClock
    let metrics: ServiceMetrics
    let shutdownDeadline: ShutdownDeadline?

    /// `onListening` gets the binary protocol's bound address and the AWS JSON endpoint's, if
    /// served. `group` is the ServiceGroup this service runs in (add it with
    /// `configuration`); the background jobs are added to it once the database is ready.
    /// `metrics` is handed to every part that counts. `shutdownDeadline`, when given, is armed
    /// when the shutdown begins and told what it is waiting for.
    public init(
        settings: Settings, scope: ServiceScope, client: PostgresClient, group: ServiceGroup, logger: Logger,
        clock: ServiceClock = .system,
        metrics: ServiceMetrics = ServiceMetrics(),
        shutdownDeadline: ShutdownDeadline? = nil,
        onListening: @escaping @Sendable (SocketAddress, SocketAddress?) -> Void = { _, _ in }
    ) {
        self.metrics = metrics
        self.shutdownDeadline = shutdownDeadline
        self.group = group
        self.clock = clock
        self.settings = settings
        self.scope = scope
        self.client = client
        self.logger = logger
        self.onListening = onListening
    }

    /// Applies migrations, starts the listeners and adds the background jobs to `group`, then waits for a graceful
    /// shutdown and closes the listeners, flushes counts and last uses, and closes the audit log and worker pool.
    public func run() async throws {
        // Its turn comes first only when the shutdown came before the jobs were added (the
        // listener drain arms it otherwise); arming twice does nothing.
        try await withGracefulShutdownHandler {
            try await self.runUntilShutdown()
        } onGracefulShutdown: { [deadline = self.shutdownDeadline] in
            deadline?.arm()
        }
    }

    private func runUntilShutdown() async throws {
        // The probes answer from the start: alive, and not ready ("starting") until the setup is
        // done, since the migrations may wait for another kmsd's (a liveness probe must not kill it).
        let readiness = Readiness(checks: nil)
        var metricsListener: (any Channel)?
        if let host = self.settings.metricsHost, let render = self.settings.renderMetrics {
            metricsListener = try await MetricsEndpoint.bind(
                to: try SocketAddress.makeAddressResolvingHost(host, port: self.settings.metricsPort), render: render,
                readiness: readiness)
            self.logger.notice(
                "serving metrics and probes",
                metadata: ["listen": "\(metricsListener?.localAddress.map { "\($0)" } ?? "?")"])
        }
        do {
            try await self.serve(readiness: readiness, metricsListener: metricsListener)
        } catch {
            try? await metricsListener?.close()
            throw error
        }
    }

    private func serve(readiness: Readiness, metricsListener: (any Channel)?) async throws {
        try await Migrations.apply(on: self.client, logger: self.logger)
        let cache = KeyCache(lifetime: self.settings.cacheLifetime, clock: self.clock, metrics: self.metrics)
        let worker = try WorkerPool(
            socketPath: self.settings.workerSocket, connections: self.settings.workerConnections,
            configuration: self.settings.rpc, timeout: self.settings.workerTimeout,
            expectedUID: self.settings.workerUID ?? RPCPeerCredentials.ownUID, logger: self.logger,
            metrics: self.metrics
        )
        let identities = IdentityStore(client: self.client, logger: self.logger)
        let service = KMSService(
            scope: self.scope, client: self.client, cache: cache, worker: worker,
            gate: PolicyGate(
                scope: self.scope, identities: identities, cache: cache, logger: self.logger, clock: self.clock,
                metrics: self.metrics),
            logger: self.logger,
            lastUsageFlushInterval: self.settings.lastUsageFlushInterval,
            usageFlushInterval: self.settings.usageFlushInterval, auditTimeout: self.settings.auditTimeout,
            auditChain: self.settings.auditChain, auditCheckpointInterval: self.settings.auditCheckpointInterval,
            limits: RequestLimits(perPrincipal: self.settings.principalRate, perSource: self.settings.sourceRate),
            requestTimeout: self.settings.requestTimeout,
            clock: self.clock, metrics: self.metrics,
            customKeyStoreBackends: CustomKeyStoreBackends([
                .externalKeyStore: XKSKeyStoreBackend(trustRoots: self.settings.xksCAFile.map { .file($0) }),
                .awsCloudHSM: CloudHSMKeyStoreBackend(),
            ])
        )
        try await self.adoptPendingAuditRecords(into: service.auditLog)
        let authenticator = ConnectionAuthenticator(
            scope: self.scope, identities: identities, worker: worker,
            allowAnonymous: self.settings.insecureNoAuthentication, cache: cache, logger: self.logger,
            metrics: self.metrics
        )
        let tls = self.settings.tls
        if self.settings.insecureNoAuthentication {
            self.logger.critical(
                """
                INSECURE DEVELOPMENT MODE: connections without credentials act as the root of account \
                \(self.scope.defaultAccount). Never run this way with keys that matter.
                """
            )
        }
        var authentication = RPCServerAuthentication(anonymousAllowed: self.settings.insecureNoAuthentication) {
            attempt in
            try await authenticator.verify(attempt)
        }
        if let tls, tls.clientCAPath != nil {
            authentication.certificatePrincipal = { certificate in tls.principal(for: certificate) }
        }
        let address = try SocketAddress.makeAddressResolvingHost(
            self.settings.listenHost, port: self.settings.listenPort)
        let table = service.handlerTable()
        let tlsContext = try tls?.makeContext()
        let server = try await RPCServer.bind(
            to: address, table: table, configuration: self.settings.rpc, logger: self.logger,
            tls: tlsContext, authentication: authentication
        )
        let awsJSONEndpoint = try await self.bindAWSJSON(
            table: table, identities: identities, worker: worker, cache: cache, tls: tlsContext)
        let awsJSON = awsJSONEndpoint?.channel
        readiness.start(
            checks: Self.readinessChecks(
                client: self.client, worker: worker, auditLog: service.auditLog, logger: self.logger))
        var listeners = [(channel: server.channel, connections: server.connections)]
        if let awsJSONEndpoint { listeners.append(awsJSONEndpoint) }
        let drain = ListenerDrain(
            readiness: readiness, delay: self.settings.shutdownDelay, grace: self.settings.shutdownGrace,
            listeners: listeners, deadline: self.shutdownDeadline, logger: self.logger)
        if let address = server.localAddress { self.onListening(address, awsJSON?.localAddress) }
        self.logger.notice(
            "serving",
            metadata: [
                "listen": "\(server.localAddress.map { "\($0)" } ?? "?")",
                "region": "\(self.scope.defaultRegion)", "account": "\(self.scope.defaultAccount)",
                "tls": "\(Self.describe(tls))",
            ])
        let jobs = self.jobs(
            service: service, cache: cache, worker: worker, server: server, awsJSON: awsJSON,
            metricsListener: metricsListener, drain: drain)
        for job in jobs where !Task.isShuttingDownGracefully {
            await self.group.addServiceUnlessShutdown(job.watched(by: self.shutdownDeadline).configuration)
        }
        // This service's turn to shut down comes after every job it added has stopped.
        try? await gracefulShutdown()
        let deadline = self.shutdownDeadline
        // Done already, unless the shutdown came before the jobs were added.
        deadline?.step("draining the listeners")
        await drain.drain()
        await server.close()
        try? await awsJSON?.close()
        try? await metricsListener?.close()
        // The flushers flushed when they stopped. These matter when a shutdown came before the
        // flushers were added (the listener was already serving).
        deadline?.step("flushing usage counts and last uses")
        await service.usage.flushUnlessStopped()
        await service.lastUsage.flushUnlessStopped()
        // The last records get their checkpoint while kms-cryptod is still reachable.
        deadline?.step("closing the audit log")
        await service.auditLog?.close()
        deadline?.step("closing the worker connections")
        await worker.close()
        deadline?.step("stopping the database client")
        self.logger.notice("stopped")
    }

    /// The order is the reverse of the shutdown's (see the type's comment). Restarted with
    /// backoff: the jobs whose work lives in the database and that pick it up again by
    /// themselves. Ending the process: the listeners (kmsd must not run on without them) and the
    /// flushers (their loops catch write failures and keep what failed, so one that ends is a
    /// bug; the group's shutdown then still flushes the other and closes the audit log).
    private func jobs(
        service: KMSService, cache: KeyCache, worker: any CryptoBackend, server: RPCServer, awsJSON: (any Channel)?,
        metricsListener: (any Channel)?, drain: ListenerDrain
    ) -> [BackgroundJob] {
        let (client, logger, clock, settings, metrics) = (
            self.client, self.logger, self.clock, self.settings, self.metrics
        )
        var jobs = [
            BackgroundJob(
                "last-use flusher", policy: .endProcess, clock: clock, logger: logger, metrics: metrics,
                running: service.lastUsage),
            BackgroundJob(
                "usage flusher", policy: .endProcess, clock: clock, logger: logger, metrics: metrics,
                running: service.usage),
            BackgroundJob(
                "change listener", policy: .restartWithBackoff, clock: clock, logger: logger, metrics: metrics,
                running: ChangeListener(client: client, cache: cache, logger: logger, clock: clock)
            ),
            BackgroundJob(
                "deletion reaper", policy: .restartWithBackoff, clock: clock, logger: logger, metrics: metrics,
                running: DeletionReaper(
                    keys: KeyStore(client: client, logger: logger), interval: settings.reaperInterval, logger: logger,
                    clock: clock, multiRegionKeys: KeyStore(client: client, logger: logger),
                    tokenKeys: TokenKeyDestroyer(
                        worker: worker, stores: CustomKeyStoreStore(client: client, logger: logger), logger: logger))
            ),
            BackgroundJob(
                "rewrap job", policy: .restartWithBackoff, clock: clock, logger: logger, metrics: metrics,
                running: RewrapJob(
                    client: client, worker: worker, interval: settings.rewrapInterval, logger: logger, clock: clock)
            ),
            BackgroundJob(
                "rotation scheduler", policy: .restartWithBackoff, clock: clock, logger: logger, metrics: metrics,
                running: RotationScheduler(
                    client: client, service: service, interval: settings.rotationInterval, logger: logger, clock: clock)
            ),
        ]
        if !self.scope.peerRegions.isEmpty || settings.importsFromPeers {
            jobs.append(
                BackgroundJob(
                    "multi-Region replication", policy: .restartWithBackoff, clock: clock, logger: logger,
                    metrics: metrics,
                    running: PeerReplicationJob(
                        client: client, service: service, interval: settings.peerReplicationInterval, logger: logger,
                        clock: clock)))
        }
        if let log = service.auditLog {
            jobs.append(
                BackgroundJob(
                    "audit outbox sweeper", policy: .restartWithBackoff, clock: clock, logger: logger, metrics: metrics,
                    running: AuditOrphanSweeper(
                        client: client, log: log, age: settings.auditAdoptAfter,
                        interval: AuditOrphanSweeper.interval(forAge: settings.auditAdoptAfter), logger: logger,
                        clock: clock)))
        }
        if let metricsListener {
            jobs.append(
                BackgroundJob("metrics listener", policy: .endProcess, clock: clock, logger: logger, metrics: metrics) {
                    try await BackgroundJob.serve(
                        until: { try await metricsListener.closeFuture.get() },
                        close: { try? await metricsListener.close() })
                })
        }
        if let awsJSON {
            jobs.append(
                BackgroundJob("AWS JSON listener", policy: .endProcess, clock: clock, logger: logger, metrics: metrics)
                {
                    try await BackgroundJob.serve(
                        until: {
                            try await awsJSON.closeFuture.get()
                            try await drain.awaitTurn()
                        }, close: { try? await awsJSON.close() })
                })
        }
        jobs.append(
            BackgroundJob(
                "binary protocol listener", policy: .endProcess, clock: clock, logger: logger, metrics: metrics
            ) {
                try await BackgroundJob.serve(
                    until: {
                        try await server.channel.closeFuture.get()
                        try await drain.awaitTurn()
                    }, close: { await server.close() })
            })
        // Last: the shutdown reaches it first, while everything else still runs.
        jobs.append(
            BackgroundJob("listener drain", policy: .endProcess, clock: clock, logger: logger, metrics: metrics) {
                try await drain.run()
            })
        return jobs
    }

    /// How the process's group runs this service: its end, success or failure, ends the group.
    public var configuration: ServiceGroupConfiguration.ServiceConfiguration {
        .init(
            service: self, successTerminationBehavior: .gracefullyShutdownGroup,
            failureTerminationBehavior: .gracefullyShutdownGroup)
    }

    /// Changes this chain's writer committed with their records before it stopped, without
    /// chaining the records (kmsd killed between the two): their records are chained first.
    private func adoptPendingAuditRecords(into log: (any AuditWriting)?) async throws {
        guard let log else { return }
        let (records, unreadable) = try await AuditOutbox.pending(
            of: log.chain, client: self.client, logger: self.logger)
        if !unreadable.isEmpty {
            self.logger.critical(
                """
                audit records committed with their changes cannot be read: they were changed outside the service; \
                they are left in kms_audit_pending
                """,
                metadata: [
                    "chain": "\(log.chain)",
                    "ids": "\(unreadable.map { $0.uuidString.lowercased() }.joined(separator: ","))",
                ])
        }
        guard !records.isEmpty else { return }
        self.logger.notice(
            "chaining audit records of changes committed before this kmsd last stopped",
            metadata: [
                "chain": "\(log.chain)", "records": "\(records.count)",
            ])
        log.adopt(records)
    }

    static func describe(_ tls: ServerTLS?) -> String {
        guard let tls else { return "off" }
        return tls.clientCAPath == nil ? "on" : "on, client certificates accepted"
    }

    /// The AWS JSON endpoint, when configured, on the same handlers as the binary protocol.
    private func bindAWSJSON(
        table: RPCHandlerTable, identities: IdentityStore, worker: any CryptoBackend, cache: KeyCache,
        tls: NIOSSLContext?
    ) async throws -> (channel: any Channel, connections: OpenConnections)? {
        guard let host = self.settings.awsJSONHost else { return nil }
        let hosts = try SigV4.HostNames(
            self.settings.awsJSONHosts
                ?? AWSJSONEndpoint.defaultHostNames(
                    listenHost: host, certificatePath: self.settings.tls?.certificatePath)
        )
        let endpoint = AWSJSONEndpoint(
            table: table,
            authenticator: SigV4Authenticator(
                scope: self.scope, hosts: hosts, defaultPort: tls == nil ? 80 : 443, identities: identities,
                worker: worker, cache: cache,
                logger: self.logger, now: { [clock = self.clock] in clock.wallNow }, metrics: self.metrics
            ),
            limits: self.settings.awsJSONLimits, logger: self.logger
        )
        let channel = try await endpoint.bind(
            to: try SocketAddress.makeAddressResolvingHost(host, port: self.settings.awsJSONPort), tls: tls)
        self.logger.notice(
            "serving the AWS JSON API",
            metadata: [
                "listen": "\(channel.localAddress.map { "\($0)" } ?? "?")", "https": "\(tls != nil)",
                "hosts": "\(hosts)",
            ])
        return (channel, endpoint.connections)
    }
}
