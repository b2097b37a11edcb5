import KMSDomain
import KMSRPC
import Synchronization

/// Loads of keys from PostgreSQL, at most one at a time per key and cache generation. When a
/// key changes, every request in flight on it misses the cache at once: each loading the key for
/// itself sent four queries per request and queued them all for the pool (thousands a second
/// under load, and the pool's wait then failed requests). Requests that miss together now share
/// one load.
///
/// A request joins only a load that began in the cache generation it saw when it missed, so it
/// never gets a read older than a change it could have seen (as the cache's own generation
/// check guarantees for what is stored).
final class KeyLoads: Sendable {
    private struct Flight {
        let generation: UInt64
        let token: UInt64
        let task: Task<CachedKey?, any Error>
    }

    private struct State {
        var flights: [KeyID: Flight] = [:]
        var nextToken: UInt64 = 0
        var waiting = 0
    }

    private let state = Mutex(State())

    /// The key `load` reads (nil: there is none), shared with every request that asks for the same key and
    /// generation while it runs. The load belongs to no request: it runs without the deadline
    /// of the one that started it (its store calls have their own bound), and each caller
    /// waits for it no longer than its own request deadline allows.
    func key(
        _ keyID: KeyID, generation: UInt64, _ load: @escaping @Sendable () async throws(KMSError) -> CachedKey?
    ) async throws(KMSError) -> CachedKey? {
        let task = self.state.withLock { state -> Task<CachedKey?, any Error> in
            state.waiting += 1
            if let flight = state.flights[keyID], flight.generation == generation { return flight.task }
            state.nextToken &+= 1
            let token = state.nextToken
            let task = RequestDeadline.$current.withValue(nil) {
                Task { [self] in
                    defer { self.finished(keyID, token: token) }
                    return try await load()
                }
            }
            state.flights[keyID] = Flight(generation: generation, token: token, task: task)
            return task
        }
        defer { self.state.withLock { $0.waiting -= 1 } }
        do {
            let bound = RequestDeadline.bound(ServiceTimeouts.current.storeCall * 4)
            return try await withDeadline(bound) { try await task.value }
        } catch let error as KMSError {
            throw error
        } catch {
            throw KMSError.internalFailure("the key store is unavailable; retry later")
        }
    }

    /// Loads in flight, and callers waiting for them.
    var inFlight: (loads: Int, callers: Int) { self.state.withLock { ($0.flights.count, $0.waiting) } }

    private func finished(_ keyID: KeyID, token: UInt64) {
        self.state.withLock { state in
            if state.flights[keyID]?.token == token { state.flights[keyID] = nil }
        }
    }
}
