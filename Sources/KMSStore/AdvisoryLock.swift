import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs `body` only if this process can take the session advisory lock `key` (another kmsd
    /// holding it skips the round: nil). The lock is held on one pooled connection for the
    /// whole of `body`, which does its own work on other connections, so a long round never
    /// holds a transaction open; it is released before that connection goes back to the pool,
    /// whatever `body` did.
    public func withSessionAdvisoryLock<T: Sendable>(
        _ key: Int64, logger: Logger, _ body: () async throws -> T
    ) async throws -> T? {
        try await self.withConnection { connection in
            let lock = try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger)
            var held = false
            for try await acquired in lock.decode(Bool.self) { held = acquired }
            guard held else { return nil }
            let outcome: Result<T, any Error>
            do {
                outcome = .success(try await body())
            } catch {
                outcome = .failure(error)
            }
            try await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
            return try outcome.get()
        }
    }
}
