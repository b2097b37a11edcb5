import Logging
import Synchronization

/// A failure that repeats with every call while it lasts (kms-cryptod away: every request and
/// every readiness probe fails the same way), logged as one incident: when it starts, then at
/// most once per `interval` with how many were not logged, and once when it is over. A log
/// that repeats per request hides everything else in it and costs what the outage should not.
final class IncidentLog: Sendable {
    struct State {
        var since: ContinuousClock.Instant?
        var lastLogged: ContinuousClock.Instant?
        var unlogged = 0
    }

    let interval: Duration
    private let state = Mutex(State())
    /// Read without the lock by every successful call: the lock only while failing.
    private let open = Atomic<Bool>(false)

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// A failure: `log` is called with the failures not logged since the last line, when one
    /// is due (the first of an incident, then once per interval).
    func failed(_ log: (_ unlogged: Int) -> Void) {
        let now = ContinuousClock.now
        let due = self.state.withLock { state -> Int? in
            if state.since == nil { state.since = now }
            if let last = state.lastLogged, now - last < self.interval {
                state.unlogged += 1
                return nil
            }
            defer {
                state.lastLogged = now
                state.unlogged = 0
            }
            return state.unlogged
        }
        self.open.store(true, ordering: .releasing)
        if let due { log(due) }
    }

    /// A success: `log` is called with the incident's length and its unlogged failures if one
    /// was open.
    func succeeded(_ log: (_ lasted: Duration, _ unlogged: Int) -> Void) {
        guard self.open.load(ordering: .acquiring) else { return }
        let ended = self.state.withLock { state -> (Duration, Int)? in
            guard let since = state.since else { return nil }
            defer { state = State() }
            return (ContinuousClock.now - since, state.unlogged)
        }
        self.open.store(false, ordering: .releasing)
        if let ended { log(ended.0, ended.1) }
    }
}
