import Synchronization

/// Whether a daemon is ready to serve, for `GET /readyz`: its checks (each bounded by its owner)
/// run together, and their result is kept for `window`, so that any number of probes costs at
/// most one round of checks a window and a probe never waits behind another's round. Once
/// `beginShutdown` is called the answer is "not ready" at once, without any check. A daemon
/// that serves its probes before it is set up (kmsd, while it applies migrations) starts
/// without checks, "not ready: starting", and gives them with `start(checks:)`.
public final class Readiness: Sendable {
    /// A check that failed: its name ("database", "worker", ...) and a short reason, which the
    /// probe's body shows (so never an error's text that might carry a secret).
    public struct Failure: Sendable, Hashable, CustomStringConvertible {
        /// The check's name.
        public var check: String
        /// Why it failed, in a few words.
        public var reason: String

        /// A failed `check` for `reason`.
        public init(_ check: String, _ reason: String) {
            self.check = check
            self.reason = reason
        }

        /// "check: reason".
        public var description: String { "\(self.check): \(self.reason)" }
    }

    /// One check: no failure when what it checks is fine. It must end on its own within a
    /// short bound (a probe waits for it).
    public typealias Check = @Sendable () async -> [Failure]

    /// The result of one round of checks.
    public struct Report: Sendable {
        /// Every failed check; none when ready.
        public var failures: [Failure]
        /// True when no check failed.
        public var isReady: Bool { self.failures.isEmpty }

        /// 200 "ok", or 503 with a line per failed check.
        public var answer: ProbeEndpoint.Answer {
            guard !self.isReady else { return ProbeEndpoint.Answer(status: 200, body: Array("ok\n".utf8)) }
            let lines = self.failures.map { "\($0)\n" }.joined()
            return ProbeEndpoint.Answer(status: 503, body: Array("not ready\n\(lines)".utf8))
        }
    }

    private struct State {
        var checks: [Check]?
        var last: (at: ContinuousClock.Instant, report: Report)?
        var running: Task<Report, Never>?
    }

    private enum Pick {
        case kept(Report)
        case round(Task<Report, Never>)
    }

    private let window: Duration
    private let state: Mutex<State>
    private let stopping = Atomic<Bool>(false)

    /// Readiness by `checks`, each round's result kept for `window`; nil: not ready, starting,
    /// until `start(checks:)`.
    public init(checks: [Check]?, window: Duration = .seconds(1)) {
        self.state = Mutex(State(checks: checks))
        self.window = window
    }

    /// The setup is done: from now on readiness is what `checks` find.
    public func start(checks: [Check]) {
        self.state.withLock { $0.checks = checks }
    }

    static let starting = Report(failures: [Failure("startup", "the process is still starting")])

    /// From now on not ready: the process is shutting down.
    public func beginShutdown() {
        self.stopping.store(true, ordering: .relaxed)
    }

    /// Whether `beginShutdown` was called.
    public var isShuttingDown: Bool { self.stopping.load(ordering: .relaxed) }

    static let shuttingDown = Report(failures: [Failure("shutdown", "the process is shutting down")])

    /// The latest report: the kept one while it is fresh, else the round under way, else a new round.
    public func report() async -> Report {
        if self.isShuttingDown { return Self.shuttingDown }
        let now = ContinuousClock.now
        let pick = self.state.withLock { state -> Pick in
            guard let checks = state.checks else { return .kept(Self.starting) }
            if let last = state.last, now - last.at < self.window { return .kept(last.report) }
            if let running = state.running { return .round(running) }
            let round = Task { await self.runChecks(checks) }
            state.running = round
            return .round(round)
        }
        let report: Report
        switch pick {
        case .kept(let kept): report = kept
        case .round(let round): report = await round.value
        }
        return self.isShuttingDown ? Self.shuttingDown : report
    }

    private func runChecks(_ checks: [Check]) async -> Report {
        let failures = await withTaskGroup(of: [Failure].self) { group in
            for check in checks { group.addTask { await check() } }
            var all: [Failure] = []
            for await failures in group { all += failures }
            return all
        }
        // In the order of the checks' names, so that the same failures read the same way.
        let report = Report(failures: failures.sorted { ($0.check, $0.reason) < ($1.check, $1.reason) })
        self.state.withLock { state in
            state.last = (ContinuousClock.now, report)
            state.running = nil
        }
        return report
    }
}
