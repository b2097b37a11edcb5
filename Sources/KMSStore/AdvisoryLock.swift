import Logging
import PostgresNIO

/// How the caller bounds the advisory lock's two statements (kmsd: a deadline each). A statement
/// on a pooled connection that closed a moment before is never answered (postgres-nio drops the
/// write's failure), and the unlock runs on the connection that held the lock through the whole
/// round, which may have closed meanwhile: unbounded, either would wait forever.
public struct AdvisoryLockStatements: Sendable {
    /// Runs one statement, returning its boolean answer or throwing when it is not answered in time.
    public let run: @Sendable (_ statement: @escaping @Sendable () async throws -> Bool) async throws -> Bool

    /// Statements bounded by `run`.
    public init(
        run: @escaping @Sendable (_ statement: @escaping @Sendable () async throws -> Bool) async throws -> Bool
    ) {
        self.run = run
    }
}

extension PostgresClient {
    /// Runs `body` only if this process can take the session advisory lock `key` (another kmsd
    /// holding it skips the round: nil). The lock is held on one pooled connection for the
    /// whole of `body`, which does its own work on other connections, so a long round never
    /// holds a transaction open; it is released before that connection goes back to the pool,
    /// whatever `body` did. A connection that closed meanwhile took the lock with it (PostgreSQL
    /// releases a session's locks when it ends), and the unlock is not sent; one whose unlock is
    /// not answered is closed, for the same end.
    public func withSessionAdvisoryLock<T: Sendable>(
        _ key: Int64, logger: Logger, statements: AdvisoryLockStatements, _ body: () async throws -> T
    ) async throws -> T? {
        try await self.withConnection { connection in
            let held = try await statements.run {
                var acquired = false
                for try await value in try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger)
                    .decode(Bool.self)
                {
                    acquired = value
                }
                return acquired
            }
            guard held else { return nil }
            let outcome: Result<T, any Error>
            do {
                outcome = .success(try await body())
            } catch {
                outcome = .failure(error)
            }
            if !connection.isClosed {
                do {
                    _ = try await statements.run {
                        try await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                            .collect().count > 0
                    }
                } catch {
                    // Unanswered, the lock may still be held: the session's end releases it,
                    // where the pool would hand the connection on with it.
                    try? await connection.close()
                    throw error
                }
            }
            return try outcome.get()
        }
    }
}
