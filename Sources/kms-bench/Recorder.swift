import Foundation
import Histogram
import Synchronization

/// Latencies (microseconds, HdrHistogram) and error counts of the measured part of a run, plus
/// the current second's figures for the progress line.
final class Recorder: Sendable {
    struct Snapshot: Sendable {
        var total = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var interval = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var succeeded = 0
        var failed = 0
        var intervalCount = 0
        var errors: [String: Int] = [:]
    }

    private let state = Mutex(Snapshot())

    func record(microseconds: UInt64, error: String?) {
        self.state.withLock { state in
            _ = state.total.record(max(1, microseconds))
            _ = state.interval.record(max(1, microseconds))
            state.intervalCount += 1
            if let error {
                state.failed += 1
                state.errors[error, default: 0] += 1
            } else {
                state.succeeded += 1
            }
        }
    }

    /// The figures so far; starts a new progress interval.
    func takeInterval() -> (count: Int, p99: UInt64, errors: Int, total: Histogram<UInt64>) {
        self.state.withLock { state in
            let result = (state.intervalCount, state.interval.valueAtPercentile(99), state.failed, state.total)
            state.interval.reset()
            state.intervalCount = 0
            return result
        }
    }

    var snapshot: Snapshot { self.state.withLock { $0 } }
}
