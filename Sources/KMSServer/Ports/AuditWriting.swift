import KMSDomain
import KMSStore
import Synchronization

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
/// - A record queued ahead of its result (`appendAhead`) is kept as `append` keeps one: its
///   ticket is answered once it is durable, or with the error that kept it from being so.
public protocol AuditWriting: Sendable {
    /// The chain this writer extends (`--audit-chain`); changes' records name it.
    var chain: String { get }

    /// Refuses a request (a retryable internal failure) while the log cannot be written.
    func admit() throws(KMSError)

    /// Returns once `entry` is durable in the chain; throws when it could not be, or not in
    /// time. `pending`: the record was committed with its change (its entry is `entry`), so it
    /// is durable already: it is chained and leaves the outbox, and `append` may return before.
    func append(_ entry: AuditEntry, pending: PendingAudit?) async throws

    /// Queues `entry`, the record of a result kms-cryptod is still working out, and returns at
    /// once: its commit runs while the worker works, and the request waits on the ticket once it
    /// has its result (`AuditTicket.wait`). Nil: this writer does not queue ahead, and the
    /// request appends its record after its result as any request does.
    func appendAhead(_ entry: AuditEntry) -> AuditTicket?

    /// The request whose record `ticket` is failed after all, with `errorCode`: true when its
    /// record was amended before it was written, false when it is written (or being written)
    /// saying the request succeeded, and the caller appends a second record of the failure.
    func amend(_ ticket: AuditTicket, errorCode: String) -> Bool

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

extension AuditWriting {
    /// A writer that does not queue ahead (the in-memory one): the record is appended after the result.
    public func appendAhead(_ entry: AuditEntry) -> AuditTicket? { nil }
    /// Nothing was queued ahead, so nothing is amended.
    public func amend(_ ticket: AuditTicket, errorCode: String) -> Bool { false }
}

extension AuditLog: AuditWriting {}

/// The answer to a record queued ahead of its request's result (`AuditWriting.appendAhead`):
/// given once, by the writer, whether or not the request waits for it yet.
public final class AuditTicket: Sendable {
    private enum State {
        /// Not answered yet; the request, once it waits.
        case open(UnsafeContinuation<Void, any Error>?)
        /// Answered: durable, or why it is not.
        case answered(Result<Void, any Error>)
    }

    /// Unsafe (no checking box per request): the Mutex lets one side resume it, once.
    private let state = Mutex(State.open(nil))

    /// A ticket not answered yet, for the writer to hold with the record.
    public init() {}

    /// Returns once the record is durable; throws when it could not be, or not in time.
    public func wait() async throws {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            let answered = self.state.withLock { state -> Result<Void, any Error>? in
                if case .answered(let result) = state { return result }
                state = .open(continuation)
                return nil
            }
            if let answered { continuation.resume(with: answered) }
        }
    }

    /// The writer's answer (nil: durable). Only the first counts.
    public func answer(_ error: (any Error)?) {
        let result: Result<Void, any Error> = error.map { .failure($0) } ?? .success(())
        let waiting = self.state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            guard case .open(let continuation) = state else { return nil }
            state = .answered(result)
            return continuation
        }
        waiting?.resume(with: result)
    }
}
