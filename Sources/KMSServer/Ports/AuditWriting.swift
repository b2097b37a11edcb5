import KMSDomain
import KMSStore

/// The audit log's writer, as the service core uses it (`AuditLog` over PostgreSQL in kmsd).
/// Every request's record goes through it; what it wrote, `AuditReading` reads back. What an
/// implementation must keep:
///
/// - A record is durable before `append` returns: no answer leaves before its record is kept.
///   When it cannot be kept (in time), `append` throws, and the request's result is withheld.
///   The one exception: a refusal's record while the log cannot be written may be queued and
///   `append` return at once (the request did nothing; its caller hears why it was refused).
/// - Records of `chain` are hash-chained (`AuditChain`) in the order they were written: each
///   links to the one before, from `AuditRecord.genesis`.
/// - A change's record was stored with the change (`PendingAudit`, committed): it is chained
///   once and leaves the outbox in the same step; one that another writer chained first (it
///   is no longer in the outbox) is not chained again. `append` may return before it is
///   chained (it is durable already); `settle` waits until it is.
/// - While the log cannot take records, `admit` throws: requests are refused before they do
///   anything whose result would have to be withheld.
public protocol AuditWriting: Sendable {
    /// The chain this writer extends (`--audit-chain`); changes' records name it.
    var chain: String { get }

    /// Refuses a request (a retryable internal failure) while the log cannot be written.
    func admit() throws(KMSError)

    /// Returns once `entry` is durable in the chain; throws when it could not be, or not in
    /// time. `pending`: the record was committed with its change (its entry is `entry`), so it
    /// is durable already: it is chained and leaves the outbox, and `append` may return before.
    func append(_ entry: AuditEntry, pending: PendingAudit?) async throws

    /// Returns once the records appended before the call are chained, or (the log cannot be
    /// written) after the log's timeout: readers of the log call it first, so they see every
    /// change this writer's service answered before.
    func settle() async

    /// Queues records committed with their changes that nobody waits for (a kmsd stopped before
    /// chaining them, a change that committed after its request gave up): chained as `append`
    /// chains a change's record, without making the caller wait.
    func adopt(_ records: [PendingAudit])

    /// For kmsd stopping: waits (boundedly) for the records still queued and checkpoints the
    /// head, so the last checkpoint covers the last record.
    func close() async
}

extension AuditLog: AuditWriting {}
