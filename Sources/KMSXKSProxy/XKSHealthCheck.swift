import Synchronization

/// GetHealthStatus's deep check, made at most once per `cacheFor`: AWS KMS, load balancers and
/// monitors may ask often, and each answer must not cost kmsd an encryption. Callers that ask
/// while a check runs wait for that one (one check in flight at a time).
final class XKSHealthCheck: Sendable {
    private struct State {
        var last: (healthy: Bool, at: ContinuousClock.Instant)?
        var running: Task<Bool, Never>?
    }

    private let cacheFor: Duration
    private let state = Mutex(State())

    /// A check whose result is answered again for `cacheFor` (zero: a check per call).
    init(cacheFor: Duration) { self.cacheFor = cacheFor }

    /// The last result if fresh, else `probe`'s (shared with any caller asking meanwhile).
    func healthy(probe: @escaping @Sendable () async -> Bool) async -> Bool {
        let now = ContinuousClock.now
        let decision: Decision = self.state.withLock { state in
            if let last = state.last, now - last.at < self.cacheFor { return .cached(last.healthy) }
            if let running = state.running { return .wait(running) }
            let running = Task {
                let healthy = await probe()
                self.state.withLock { state in
                    state.last = (healthy, ContinuousClock.now)
                    state.running = nil
                }
                return healthy
            }
            state.running = running
            return .wait(running)
        }
        switch decision {
        case .cached(let healthy): return healthy
        case .wait(let task): return await task.value
        }
    }

    private enum Decision {
        case cached(Bool)
        case wait(Task<Bool, Never>)
    }
}
