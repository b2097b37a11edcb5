import KMSRPC
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The first step of kmsd's graceful shutdown (SIGTERM), before any other part stops: readiness
/// turns false at once (load balancers stop sending); after `delay` (for them to notice) the
/// client listeners stop accepting; open connections answer what they have in flight and close
/// (new requests on them are refused, retryable; HTTP answers carry `Connection: close`);
/// connections still open after `grace` are closed. Then the rest of the shutdown flushes
/// usage, last uses and the audit log while kms-cryptod still serves.
final class ListenerDrain: Sendable {
    let readiness: Readiness
    let delay: Duration
    let grace: Duration
    let listeners: [(channel: any Channel, connections: OpenConnections)]
    let deadline: ShutdownDeadline?
    let logger: Logger
    private let started = Atomic<Bool>(false)

    init(
        readiness: Readiness, delay: Duration, grace: Duration,
        listeners: [(channel: any Channel, connections: OpenConnections)], deadline: ShutdownDeadline? = nil,
        logger: Logger
    ) {
        self.deadline = deadline
        self.readiness = readiness
        self.delay = delay
        self.grace = grace
        self.listeners = listeners
        self.logger = logger
    }

    /// Whether the drain has begun: a listener closed from then on was closed by it.
    var hasStarted: Bool { self.started.load(ordering: .relaxed) }

    /// Waits for the graceful shutdown, then drains. The job that runs it is added last, so the
    /// group's shutdown (in reverse order) reaches it first.
    func run() async throws {
        try await gracefulShutdown()
        await self.drain()
    }

    func drain() async {
        guard !self.started.exchange(true, ordering: .relaxed) else { return }
        self.deadline?.arm()
        self.readiness.beginShutdown()
        self.logger.notice(
            "shutting down: not ready any more; the listeners stop accepting after the delay",
            metadata: ["delay": "\(self.delay)", "grace": "\(self.grace)"])
        if self.delay > .zero {
            // A cancelled group (a second signal, or a timeout) skips the wait.
            try? await Task.sleep(for: self.delay)
        }
        for listener in self.listeners { try? await listener.channel.close() }
        for listener in self.listeners { listener.connections.quiesce() }
        let end = ContinuousClock.now + self.grace
        var open = 0
        for listener in self.listeners {
            let left = max(.zero, end - ContinuousClock.now)
            if !(await listener.connections.waitUntilClosed(within: left)) {
                open += listener.connections.count
            }
        }
        guard open > 0 else {
            self.logger.notice("every connection finished its requests and closed")
            return
        }
        self.logger.warning(
            "closing the connections still open after the grace period",
            metadata: ["connections": "\(open)", "grace": "\(self.grace)"])
        for listener in self.listeners { await listener.connections.closeAll() }
    }

    /// For a listener's job, once its listener closed: when the drain closed it, waits until the
    /// group's shutdown reaches the job (a job that ends before its turn ends the group as a
    /// failure); otherwise returns at once, and the job fails as a listener that closed by itself.
    func awaitTurn() async throws {
        guard self.hasStarted else { return }
        try await gracefulShutdown()
    }
}
