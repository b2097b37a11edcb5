import NIOCore
import Synchronization

/// An XKS client's connections to its proxy: at most `maxOpen` open at once (being opened, in
/// use or idle), of which at most `maxIdle` are kept idle for the next requests. A request
/// takes an idle connection, or a slot to open one; when every slot is taken it waits, in
/// order, for a connection to come back or close, up to a timeout. HTTP/1.1 without pipelining
/// serves one request at a time per connection, so requests in flight at once each hold their
/// own; waiting for one beats opening a connection per request past the bound, whose handshake
/// costs more than the wait (measured: XKSEncryptMeasurement).
final class XKSConnectionPool: Sendable {
    /// What `lease` gives: an idle connection, or a slot to open one in (`opened` or `openFailed` after).
    enum Lease {
        case idle(any Channel)
        case open
    }

    /// A waiting request, from `lease` finding no connection to the end of its wait. A wake or a
    /// timeout may come before it is waiting (`ended`): its wait then ends at once.
    private enum Wait {
        case pending
        case waiting(CheckedContinuation<Bool, Never>)
        case ended(Bool)
    }

    private struct State {
        var idle: [any Channel] = []
        var open = 0
        /// By arrival number; woken (true) oldest first.
        var waits: [UInt64: Wait] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(State())
    private let maxOpen: Int
    private let maxIdle: Int

    init(maxOpen: Int, maxIdle: Int) {
        self.maxOpen = max(1, maxOpen)
        self.maxIdle = max(0, min(maxIdle, self.maxOpen))
    }

    /// An idle connection or a slot to open one; `.timedOut` when none came within `timeout`.
    func lease(timeout: Duration) async throws(XKSClientError) -> Lease {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (lease, number) = self.state.withLock { state -> (Lease?, UInt64) in
                while let channel = state.idle.popLast() {
                    if channel.isActive { return (.idle(channel), 0) }
                }
                if state.open < self.maxOpen {
                    state.open += 1
                    return (.open, 0)
                }
                state.next += 1
                state.waits[state.next] = .pending
                return (nil, state.next)
            }
            if let lease { return lease }
            guard await self.wait(number, until: deadline) else { throw .timedOut }
        }
    }

    /// A slot without waiting, past the bound if need be: a request's one retry, whose closed
    /// connection's slot is being freed.
    func leaseBeyondBound() {
        self.state.withLock { $0.open += 1 }
    }

    /// A connection opened in a leased slot: its close frees the slot.
    func opened(_ channel: any Channel) {
        channel.closeFuture.whenComplete { _ in self.freed(slot: true) }
    }

    /// The connection of a leased slot could not be opened.
    func openFailed() { self.freed(slot: true) }

    /// A connection done with its request: kept idle, or closed when `reusable` is false or
    /// enough are idle.
    func release(_ channel: any Channel, reusable: Bool) {
        let kept = self.state.withLock { state in
            guard reusable, channel.isActive, state.idle.count < self.maxIdle else { return false }
            state.idle.append(channel)
            return true
        }
        if kept { self.freed(slot: false) } else { channel.close(promise: nil) }
    }

    /// Takes every idle connection (to close them).
    func drainIdle() -> [any Channel] {
        self.state.withLock { state in
            defer { state.idle.removeAll() }
            return state.idle
        }
    }

    /// A slot freed (`slot`) or an idle connection added: the oldest waiter tries again.
    private func freed(slot: Bool) {
        let woken = self.state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if slot { state.open -= 1 }
            let oldest = state.waits.compactMap { number, wait -> UInt64? in
                if case .ended = wait { return nil }
                return number
            }.min()
            guard let oldest else { return nil }
            return Self.end(oldest, with: true, in: &state)
        }
        woken?.resume(returning: true)
    }

    /// Ends the wait `number` with `result`: the continuation to resume when it is waiting.
    private static func end(_ number: UInt64, with result: Bool, in state: inout State)
        -> CheckedContinuation<Bool, Never>?
    {
        switch state.waits[number] {
        case .pending:
            state.waits[number] = .ended(result)
            return nil
        case .waiting(let continuation):
            state.waits.removeValue(forKey: number)
            return continuation
        case .ended, nil:
            return nil
        }
    }

    /// Waits for `freed`; false at `deadline` or on cancellation.
    private func wait(_ number: UInt64, until deadline: ContinuousClock.Instant) async -> Bool {
        let timer = Task {
            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
            self.abandon(number)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let ended = self.state.withLock { state -> Bool? in
                    if case .ended(let result) = state.waits.removeValue(forKey: number) { return result }
                    state.waits[number] = .waiting(continuation)
                    return nil
                }
                if let ended { continuation.resume(returning: ended) }
            }
        } onCancel: {
            self.abandon(number)
        }
    }

    /// Ends `number`'s wait (false) unless it already ended.
    private func abandon(_ number: UInt64) {
        self.state.withLock { Self.end(number, with: false, in: &$0) }?.resume(returning: false)
    }
}
