import Foundation
import KMSDomain
import KMSRPC
import KMSStore
import KMSWorkerProto
import Logging
import PostgresNIO

/// kmsd's operations and everything they share. Each operation reads as the request's path:
/// caller → resolve → authorize → check state → crypto → answer.
public final class KMSService: Sendable {
    /// The partition, regions and default account every ARN and caller is made in.
    public let scope: ServiceScope
    /// The database's ports (PostgreSQL's stores, or one in-memory database in unit tests),
    /// which the operations reach as `stores.keys`, `stores.grants`, ...
    let stores: ServiceStores
    /// Every request's record, durable before the answer (`AuditLog` in kmsd; nil: not audited).
    public let auditLog: (any AuditWriting)?
    /// Request counts per key, operation and hour (flushed by kmsd in batches).
    public let usage: UsageCounter
    /// Records successful cryptographic uses for GetKeyLastUsage (flushed by kmsd in batches).
    public let lastUsage: LastUsageTracker
    let cache: KeyCache
    /// Cache misses on the same key share one load.
    let keyLoads = KeyLoads()
    /// Each account's default key policy, parsed once.
    let defaultPolicies: DefaultPolicies
    /// This kmsd's on-demand rotations in progress (GetKeyRotationStatus's OnDemandRotationStartDate).
    let onDemandRotations = OnDemandRotations()
    let worker: any CryptoBackend
    let gate: any RequestGate
    /// Requests a second per principal and per source address (ThrottlingException past them).
    let limits: RequestLimits
    let logger: Logger
    /// Monotonic time for the background work, wall time for every date an operation stores or compares.
    let clock: ServiceClock
    let now: @Sendable () -> Date
    /// How long a request may take in kmsd, everything included (operations that generate key
    /// pairs get `WorkerPool.slowFactor` times as long, as their worker calls do).
    let requestTimeout: Duration
    /// kmsd's one set of metrics, shared with the parts it was built from.
    let metrics: ServiceMetrics
    /// What connects custom key stores, by type.
    let customKeyStoreBackends: CustomKeyStoreBackends

    /// Operations that may generate a key pair in kms-cryptod.
    static let slowOperations: Set<String> = [
        "CreateKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GetParametersForImport",
    ]

    func requestTimeout(for operation: String) -> Duration {
        Self.slowOperations.contains(operation) ? self.requestTimeout * WorkerPool.slowFactor : self.requestTimeout
    }

    /// The service over `client`'s database and `worker`, authorizing with `gate`. With `audit` false, nothing is
    /// audited (tests of the service alone); the other parameters are kmsd's settings of the same names.
    public convenience init(
        scope: ServiceScope,
        client: PostgresClient,
        cache: KeyCache,
        worker: any CryptoBackend,
        gate: any RequestGate,
        logger: Logger,
        lastUsageFlushInterval: Duration = .seconds(10),
        usageFlushInterval: Duration = .seconds(10),
        auditTimeout: Duration = .seconds(5),
        auditChain: String = AuditRecord.defaultChain,
        auditCheckpointInterval: Duration = .milliseconds(100),
        audit: Bool = true,
        limits: RequestLimits = RequestLimits(),
        requestTimeout: Duration = KMSService.defaultRequestTimeout,
        clock: ServiceClock = .system,
        metrics: ServiceMetrics = ServiceMetrics(),
        customKeyStoreBackends: CustomKeyStoreBackends = CustomKeyStoreBackends()
    ) {
        let auditLog =
            audit
            ? AuditLog(
                store: AuditStore(client: client, logger: logger), chain: auditChain, timeout: auditTimeout,
                worker: worker,
                checkpointInterval: auditCheckpointInterval, logger: logger, metrics: metrics
            ) : nil
        self.init(
            scope: scope, stores: .postgres(client: client, scope: scope, logger: logger), cache: cache,
            worker: worker, gate: gate, logger: logger, auditLog: auditLog,
            lastUsageFlushInterval: lastUsageFlushInterval, usageFlushInterval: usageFlushInterval, limits: limits,
            requestTimeout: requestTimeout, clock: clock, metrics: metrics,
            customKeyStoreBackends: customKeyStoreBackends
        )
    }

    /// The service over `stores` and `worker`, authorizing with `gate` and recording every
    /// request in `auditLog` (nil: nothing is audited, tests of the service alone); the other
    /// parameters are kmsd's settings of the same names.
    public init(
        scope: ServiceScope,
        stores: ServiceStores,
        cache: KeyCache,
        worker: any CryptoBackend,
        gate: any RequestGate,
        logger: Logger,
        auditLog: (any AuditWriting)?,
        lastUsageFlushInterval: Duration = .seconds(10),
        usageFlushInterval: Duration = .seconds(10),
        limits: RequestLimits = RequestLimits(),
        requestTimeout: Duration = KMSService.defaultRequestTimeout,
        clock: ServiceClock = .system,
        metrics: ServiceMetrics = ServiceMetrics(),
        customKeyStoreBackends: CustomKeyStoreBackends = CustomKeyStoreBackends()
    ) {
        self.customKeyStoreBackends = customKeyStoreBackends
        self.metrics = metrics
        self.requestTimeout = requestTimeout
        self.scope = scope
        self.defaultPolicies = DefaultPolicies(partition: scope.partition, parsed: cache.policies)
        self.stores = stores
        self.usage = UsageCounter(store: stores.usage, interval: usageFlushInterval, clock: clock, logger: logger)
        self.auditLog = auditLog
        self.lastUsage = LastUsageTracker(
            store: stores.lastUsage, interval: lastUsageFlushInterval, clock: clock, logger: logger)
        self.cache = cache
        self.worker = worker
        self.gate = gate
        self.limits = limits
        self.logger = logger
        self.clock = clock
        self.now = { clock.wallNow }
    }

    func store<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(KMSError) -> T {
        try await storeCall(logger: self.logger, metrics: self.metrics, body)
    }
}

extension KMSService {
    /// Below KMSClient's own timeout (10 s) with room for the network and the client's queue,
    /// so a client hears kmsd's retryable error rather than timing out by itself.
    public static let defaultRequestTimeout = Duration.seconds(8)
}

/// Runs a database call within `ServiceTimeouts.current.storeCall`, turning its failures into a retryable internal
/// error: the caller learns nothing about the database, the log does. KMSErrors pass through.
func storeCall<T: Sendable>(
    logger: Logger, metrics: ServiceMetrics, _ body: @escaping @Sendable () async throws -> T
) async throws(KMSError) -> T {
    let started = ContinuousClock.now
    metrics.databaseCallStarted()
    do {
        let result = try await withDeadline(RequestDeadline.bound(ServiceTimeouts.current.storeCall), body)
        metrics.databaseCallEnded(duration: ContinuousClock.now - started, failed: false)
        return result
    } catch let error as KMSError {
        metrics.databaseCallEnded(duration: ContinuousClock.now - started, failed: false)
        throw error
    } catch {
        metrics.databaseCallEnded(duration: ContinuousClock.now - started, failed: true)
        logger.error("database call failed", metadata: ["error": "\(String(reflecting: error))"])
        throw KMSError.internalFailure("the key store is unavailable; retry later")
    }
}

extension KMSService {
    /// New key material for a key, wrapped by kms-cryptod, as it will be stored.
    func generateMaterial(keyID: KeyID, keyARN: String, spec: KeySpec = .symmetricDefault) async throws(KMSError)
        -> StoredMaterial
    {
        var generate = WorkerGenerateKeyMaterialRequest()
        generate.keyID = keyID.description
        generate.keyArn = keyARN
        if spec == .symmetricDefault {
            generate.kind = .symmetric256
        } else {
            generate.kind = .byKeySpec
            generate.keySpec = WorkerKeySpec(spec)
        }
        let generated = try await self.worker.call(WorkerMethod.generateKeyMaterial, generate)
        guard let rootKeyID = UUID(uuidString: generated.rootKeyID) else {
            throw KMSError.internalFailure("the crypto worker named an invalid root key")
        }
        return StoredMaterial(
            materialID: try MaterialID(worker: generated.material.materialID),
            wrapped: Array(generated.material.wrapped),
            rootKeyID: rootKeyID
        )
    }
}
