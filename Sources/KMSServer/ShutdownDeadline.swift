import Dispatch
import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The last bound on kmsd's shutdown. Each step of the shutdown has a bound of its own (the
/// drain's grace, the audit log's timeout, a background job's database call), so this one is
/// reached only when something waits where nothing was expected to: then kmsd logs which of
/// its parts had not finished and exits non-zero, rather than run on with its listeners closed
/// and its supervisor waiting for an exit that never comes (a SIGKILL only on Kubernetes, and
/// only after its termination grace period).
///
/// Armed by the shutdown's first step (ListenerDrain, or kmsd itself when the shutdown came
/// before its jobs were added); kmsd's command makes one, so a test that runs KMSDaemon in its
/// own process gets none. The timer is a dispatch timer, not a task: a part that keeps
/// Swift's cooperative threads busy must not keep it from firing.
public final class ShutdownDeadline: Sendable {
    /// How long the steps after the drain get, all together: the jobs stopping between rounds
    /// (at most a database call's bound, 5 s, for the call in flight), the two flushers' last
    /// writes (5 s each at most), the audit log's close (its timeout, 5 s by default).
    public static let afterDrain = Duration.seconds(20)

    struct State {
        var running: [String] = []
        var step: String?
        var armed = false
        var done = false
    }

    let limit: Duration
    let logger: Logger
    let expire: @Sendable (_ status: Int32) -> Void
    private let state = Mutex(State())

    /// A deadline `limit` after it is armed; `expire` ends the process (tests pass their own).
    public init(
        limit: Duration, logger: Logger,
        expire: @escaping @Sendable (_ status: Int32) -> Void = { status in
            fflush(nil)
            _exit(status)
        }
    ) {
        self.limit = limit
        self.logger = logger
        self.expire = expire
    }

    /// A part of kmsd that the shutdown waits for has started (a background job).
    func started(_ part: String) {
        self.state.withLock { $0.running.append(part) }
    }

    /// That part has finished.
    func finished(_ part: String) {
        self.state.withLock { state in
            if let index = state.running.firstIndex(of: part) { state.running.remove(at: index) }
        }
    }

    /// kmsd's own step of the shutdown, after its jobs stopped.
    func step(_ text: String) {
        self.state.withLock { $0.step = text }
    }

    /// What the shutdown still waits for, in the order it stops them (the reverse of their start).
    var waitingFor: [String] {
        self.state.withLock { state in state.running.reversed() + (state.step.map { ["kmsd: \($0)"] } ?? []) }
    }

    /// Starts the clock, once; later calls do nothing.
    func arm() {
        let first = self.state.withLock { state in
            guard !state.armed else { return false }
            state.armed = true
            return true
        }
        guard first else { return }
        let nanoseconds = Int(TimeAmount(self.limit).nanoseconds)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
            self.expired()
        }
    }

    /// The shutdown finished: the clock, if armed, does nothing.
    public func completed() {
        self.state.withLock { $0.done = true }
    }

    func expired() {
        guard !self.state.withLock({ $0.done }) else { return }
        self.logger.critical(
            "kmsd's shutdown did not finish in time; exiting without it",
            metadata: [
                "limit": "\(self.limit)", "waiting_for": "\(self.waitingFor.joined(separator: ", "))",
            ])
        self.expire(1)
    }
}
