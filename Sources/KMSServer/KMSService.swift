import Foundation
import KMSDomain
import KMSStore
import Logging
import PostgresNIO

/// kmsd's operations and everything they share. Each operation reads as the request's path:
/// caller → resolve → authorize → check state → crypto → answer.
public final class KMSService: Sendable {
    public let scope: ServiceScope
    let keys: KeyStore
    let aliases: AliasStore
    let grants: GrantStore
    let cache: KeyCache
    let worker: WorkerPool
    let gate: any RequestGate
    let logger: Logger
    let now: @Sendable () -> Date

    public init(
        scope: ServiceScope,
        client: PostgresClient,
        cache: KeyCache,
        worker: WorkerPool,
        gate: any RequestGate,
        logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.scope = scope
        self.keys = KeyStore(client: client, logger: logger)
        self.aliases = AliasStore(client: client, scope: scope, logger: logger)
        self.grants = GrantStore(client: client, logger: logger)
        self.cache = cache
        self.worker = worker
        self.gate = gate
        self.logger = logger
        self.now = now
    }

    /// Runs a store call, turning database failures into a retryable internal error: the
    /// caller learns nothing about the database, the log does.
    func store<T>(_ body: () async throws -> T) async throws(KMSError) -> T {
        do {
            return try await body()
        } catch let error as KMSError {
            throw error
        } catch {
            self.logger.error("database call failed", metadata: ["error": "\(String(reflecting: error))"])
            throw KMSError.internalFailure("the key store is unavailable; retry later")
        }
    }
}
