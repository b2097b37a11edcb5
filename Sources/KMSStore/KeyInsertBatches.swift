import Logging
import PostgresNIO
import Synchronization

/// Group commit for new keys: a CreateKey that finds `concurrency` inserts already at the
/// database waits, and when one of those ends, everything waiting goes in one call
/// (`kms_insert_keys`, at most `maxBatch` keys). A lone CreateKey goes at once, by itself, so
/// a quiet service pays no wait; a busy one pays PostgreSQL's per-call costs (the round trip,
/// executor starts, the commit and its WAL flush) once per batch instead of once per key.
///
/// A batch is all or nothing. When PostgreSQL refuses one because a row breaks a constraint
/// or holds a bad value (nothing of it committed), its keys are inserted one by one, so that
/// each caller gets the answer it would have got alone. Any other failure (a lost connection,
/// PostgreSQL stopping) leaves the outcome unknown, as it would for a single insert, and every
/// caller of the batch gets it.
final class KeyInsertBatches: Sendable {
    /// One insert waiting for its batch.
    private struct Waiter {
        var id: Int
        var call: KeyStore.InsertKeyCall
        var continuation: CheckedContinuation<Void, any Error>
    }

    /// What became of an insert that asked to join a batch.
    private enum Admission {
        case cancelled
        /// Waiting for a running batch's task to take it.
        case queued
        /// Runs this batch (with it) and the ones after it, in a task of its own.
        case leads([Waiter])
    }

    private struct State {
        var waiting: [Waiter] = []
        var running = 0
        var nextID = 0
    }

    static let maxBatch = 64

    private let client: PostgresClient
    private let logger: Logger
    private let concurrency: Int
    private let state = Mutex(State())

    init(client: PostgresClient, logger: Logger, concurrency: Int) {
        self.client = client
        self.logger = logger
        self.concurrency = max(1, concurrency)
    }

    /// Inserts waiting for a batch (a gauge of how far the database is behind CreateKey).
    var waiting: Int { self.state.withLock { $0.waiting.count } }

    /// Returns once the key's rows are committed. Once its batch is sent, the batch commits
    /// whatever becomes of the caller's task, and the call waits for it (so that the caller's
    /// store can report the commit); while it still waits for a batch, cancelling it takes it
    /// out, and nothing of it is inserted.
    func insert(_ call: KeyStore.InsertKeyCall) async throws {
        let id = self.state.withLock { state in
            state.nextID &+= 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Cancelled or queued under the lock the cancellation handler takes: a cancel
                // lands either before (and is seen here) or after (and finds the waiter).
                let admission = self.state.withLock { state -> Admission in
                    if Task.isCancelled { return .cancelled }
                    state.waiting.append(Waiter(id: id, call: call, continuation: continuation))
                    guard state.running < self.concurrency else { return .queued }
                    state.running += 1
                    return .leads(Self.take(&state))
                }
                switch admission {
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .queued: break
                case .leads(let batch): Task { await self.run(batch) }
                }
            }
        } onCancel: {
            let removed = self.state.withLock { state -> Waiter? in
                guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiting.remove(at: index)
            }
            removed?.continuation.resume(throwing: CancellationError())
        }
    }

    private static func take(_ state: inout State) -> [Waiter] {
        let count = min(state.waiting.count, Self.maxBatch)
        defer { state.waiting.removeFirst(count) }
        return Array(state.waiting.prefix(count))
    }

    /// Runs batches until nothing waits.
    private func run(_ first: [Waiter]) async {
        var batch = first
        while !batch.isEmpty {
            await self.execute(batch)
            batch = self.state.withLock { state in
                let next = Self.take(&state)
                if next.isEmpty { state.running -= 1 }
                return next
            }
        }
    }

    private func execute(_ batch: [Waiter]) async {
        guard batch.count > 1 else {
            await self.alone(batch[0])
            return
        }
        do {
            let call = KeyStore.InsertKeysCall(inserts: batch.map(\.call))
            try await self.client.withConnection { connection in
                for try await _ in try await connection.execute(call, logger: self.logger) {}
            }
        } catch let error as PSQLError where Self.refusedBeforeCommit(error) {
            self.logger.debug(
                "a batch of new keys was refused; inserting its keys one by one",
                metadata: ["keys": "\(batch.count)", "sqlstate": "\(error.serverInfo?[.sqlState] ?? "")"])
            await withTaskGroup(of: Void.self) { group in
                for waiter in batch { group.addTask { await self.alone(waiter) } }
            }
            return
        } catch {
            for waiter in batch { waiter.continuation.resume(throwing: error) }
            return
        }
        for waiter in batch { waiter.continuation.resume() }
    }

    private func alone(_ waiter: Waiter) async {
        do {
            // Already in a task of its own that no caller's cancellation reaches (`run`).
            _ = try await self.client.withConnection { connection in
                try await KeyStore.execute(waiter.call, on: connection, logger: self.logger)
            }
            waiter.continuation.resume()
        } catch {
            waiter.continuation.resume(throwing: error)
        }
    }

    /// Errors PostgreSQL raises while it inserts, before the procedure's COMMIT: a broken
    /// constraint (class 23: a key id, ARN or external key taken) or a bad value (class 22).
    /// Nothing of the batch is committed then, so its keys may be tried again one by one.
    static func refusedBeforeCommit(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("23") || state.hasPrefix("22")
    }
}
