import Logging
import PostgresNIO

/// Writes whose success is acted on (a request answered, a batch dropped from memory) run in a
/// transaction of their own, so that success means committed.
///
/// A lone statement is not enough. In the extended protocol PostgreSQL commits a statement's
/// implicit transaction when Sync comes, after it has sent the statement's CommandComplete, and
/// postgres-nio reports the statement done at that CommandComplete. A commit that fails then
/// (PostgreSQL stopped while it flushes the commit record, a deferred constraint) is reported
/// as a success that never happened; postgres-nio only sees an unexpected message afterwards.
/// COMMIT's own CommandComplete comes after the commit. The price is two short round trips per
/// write: fine for the flushes and the rewrap; the audit log's append, on every request's path,
/// gets the same guarantee in one round trip from a procedure (Migration16AuditAppendCommits).
extension PostgresConnection {
    /// Runs `body` in one transaction; returns once PostgreSQL has committed it.
    public func committing<T>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending T
    ) async throws -> sending T {
        try await self.withTransaction(logger: logger, isolation: isolation, body)
    }
}

extension PostgresClient {
    /// Runs `body` in one transaction on a connection of the pool; returns once it committed.
    public func committing<T>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending T
    ) async throws -> sending T {
        try await self.withTransaction(logger: logger, isolation: isolation, body)
    }
}
