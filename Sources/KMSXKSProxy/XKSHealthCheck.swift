import Synchronization

/// What GetHealthStatus reports of kmsd: the spec's three ekmFleetDetails statuses.
enum XKSHealthStatus: String, Sendable {
    case active = "ACTIVE"
    case degraded = "DEGRADED"
    case unavailable = "UNAVAILABLE"
}

/// GetHealthStatus's deep check, made at most once per `cacheFor`: AWS KMS, load balancers and
/// monitors may ask often, and each answer must not cost kmsd an encryption. Callers that ask
/// while a check runs wait for that one (one check in flight at a time).
final class XKSHealthCheck: Sendable {
    private struct State {
        var last: (status: XKSHealthStatus, at: ContinuousClock.Instant)?
        var running: Task<XKSHealthStatus, Never>?
    }

    private let cacheFor: Duration
    private let state = Mutex(State())

    /// A check whose result is answered again for `cacheFor` (zero: a check per call).
    init(cacheFor: Duration) { self.cacheFor = cacheFor }

    /// The last result if fresh, else `probe`'s (shared with any caller asking meanwhile).
    func status(probe: @escaping @Sendable () async -> XKSHealthStatus) async -> XKSHealthStatus {
        let now = ContinuousClock.now
        let decision: Decision = self.state.withLock { state in
            if let last = state.last, now - last.at < self.cacheFor { return .cached(last.status) }
            if let running = state.running { return .wait(running) }
            let running = Task {
                let status = await probe()
                self.state.withLock { state in
                    state.last = (status, ContinuousClock.now)
                    state.running = nil
                }
                return status
            }
            state.running = running
            return .wait(running)
        }
        switch decision {
        case .cached(let status): return status
        case .wait(let task): return await task.value
        }
    }

    private enum Decision {
        case cached(XKSHealthStatus)
        case wait(Task<XKSHealthStatus, Never>)
    }
}
