import Foundation
import Synchronization

/// A clock that moves only when a test says so: `advance(by:)` moves monotonic and wall time
/// together and wakes the sleepers whose deadline it reached; `stepWall(by:)` steps the wall
/// clock alone, as an NTP step or an operator's `date -s` does. Tests wait for the code under
/// test to reach a sleep (`waitForSleepers`) instead of sleeping themselves.
public final class ManualClock: Clock, Sendable {
    public typealias Instant = ContinuousClock.Instant
    public typealias Duration = Swift.Duration

    private struct Sleeper {
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Instant
        var wall: Date
        var sleepers: [UInt64: Sleeper] = [:]
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
        var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        /// Every deadline a sleep was asked for, in order.
        var deadlines: [Instant] = []
    }

    private let state: Mutex<State>
    /// The monotonic instant the clock started at: tests name instants as `origin + offset`.
    public let origin: Instant

    /// Starts at an arbitrary monotonic instant and at `wall` (default 2026-01-01T00:00:00Z).
    public init(wall: Date = Date(timeIntervalSince1970: 1_767_225_600)) {
        let origin = ContinuousClock.now
        self.origin = origin
        self.state = Mutex(State(now: origin, wall: wall))
    }

    public var now: Instant { self.state.withLock { $0.now } }
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// The wall clock's now.
    public var wallNow: Date { self.state.withLock { $0.wall } }

    /// How far the monotonic clock has moved since `origin`.
    public var elapsed: Duration { self.now - self.origin }

    /// Sleeps waiting now.
    public var sleeperCount: Int { self.state.withLock { $0.sleepers.count } }

    /// The deadlines of every sleep asked for so far, oldest first.
    public var requestedDeadlines: [Instant] { self.state.withLock { $0.deadlines } }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = self.state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume: Result<Void, any Error>? = self.state.withLock { state in
                    state.deadlines.append(deadline)
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    Self.notifyWatchers(&state)
                    return nil
                }
                if let resume { continuation.resume(with: resume) }
            }
        } onCancel: {
            let sleeper = self.state.withLock { state -> Sleeper? in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return nil
                }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves monotonic and wall time forward by `duration` and wakes every sleeper now due.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a monotonic clock never goes back")
        let due = self.state.withLock { state -> [Sleeper] in
            state.now += duration
            state.wall +=
                TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
            let due = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Steps the wall clock alone, forward (positive) or back (negative); monotonic time and
    /// the sleepers are untouched, as with a real step of the system clock.
    public func stepWall(by seconds: TimeInterval) {
        self.state.withLock { $0.wall += seconds }
    }

    /// Returns once at least `count` sleeps are waiting (the code under test reached its wait).
    public func waitForSleepers(_ count: Int = 1) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = self.state.withLock { state -> Bool in
                if state.sleepers.count >= count { return true }
                state.watchers.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    private static func notifyWatchers(_ state: inout State) {
        let count = state.sleepers.count
        let ready = state.watchers.filter { $0.count <= count }
        state.watchers.removeAll { $0.count <= count }
        for watcher in ready { watcher.continuation.resume() }
    }
}
