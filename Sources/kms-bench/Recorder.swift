import Foundation
import Histogram
import Synchronization

/// Latencies (microseconds, HdrHistogram) and error counts of the measured part of a run, plus
/// the current interval's figures for the progress line and the timeline.
final class Recorder: Sendable {
    struct Snapshot: Sendable {
        var total = Histogram<UInt64>.latencies()
        var succeeded = 0
        var failed = 0
        var errors: [String: Int] = [:]
    }

    /// One interval's figures: what the run did in that second, not so far.
    struct Interval: Sendable {
        var latency = Histogram<UInt64>.latencies()
        var succeeded = 0
        var failed = 0
        var errors: [String: Int] = [:]

        var count: Int { self.succeeded + self.failed }
    }

    private struct State {
        var snapshot = Snapshot()
        var interval = Interval()
    }

    private let state = Mutex(State())

    func record(microseconds: UInt64, error: String?) {
        self.state.withLock { state in
            let value = max(1, microseconds)
            _ = state.snapshot.total.record(value)
            _ = state.interval.latency.record(value)
            if let error {
                state.snapshot.failed += 1
                state.snapshot.errors[error, default: 0] += 1
                state.interval.failed += 1
                state.interval.errors[error, default: 0] += 1
            } else {
                state.snapshot.succeeded += 1
                state.interval.succeeded += 1
            }
        }
    }

    /// The figures since the last call; starts a new interval.
    func takeInterval() -> Interval {
        self.state.withLock { state in
            defer { state.interval = Interval() }
            return state.interval
        }
    }

    var snapshot: Snapshot { self.state.withLock { $0.snapshot } }
}

extension Histogram<UInt64> {
    /// Latencies in microseconds up to a minute, to three significant digits: every histogram
    /// kms-bench reports from.
    static func latencies() -> Self {
        Self(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    }

    /// The latency at `percentile`, in milliseconds.
    func milliseconds(at percentile: Double) -> Double {
        Double(self.valueAtPercentile(percentile)) / 1000
    }
}
