import KMSRPC
import KMSStore

/// One database call of a background job (the reaper, the outbox sweeper, the re-wrap job, the
/// flushers, the change listener's LISTENs, the jobs' advisory locks), bounded by
/// `ServiceTimeouts.current.backgroundCall`: the round fails, is logged, and the next one tries
/// again. Unbounded, such a call can wait forever, and its job with it (and kmsd's shutdown,
/// which waits for the job): PostgreSQL can stall with the connection open, and a statement
/// written to a pooled connection that closed a moment before is never answered (postgres-nio
/// 1.33 writes it without a promise, so the write's failure is dropped). Requests bound theirs
/// the same way (`storeCall`).
func backgroundCall<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withDeadline(ServiceTimeouts.current.backgroundCall, body)
}

extension AdvisoryLockStatements {
    /// The advisory lock's two statements, each a background call.
    static let backgroundCalls = AdvisoryLockStatements { try await backgroundCall($0) }
}
