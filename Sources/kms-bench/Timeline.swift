import Foundation

/// Once a second: the progress line on stderr (when asked) and a line of the timeline file (when
/// asked), so that a long run's trouble can be placed in time. A run's totals say that 800
/// requests failed; the timeline says in which second, at what latency, and what else happened
/// then.
struct Timeline {
    static let header = "second requests succeeded failed p50_ms p99_ms max_ms errors"

    let recorder: Recorder
    let start: ContinuousClock.Instant
    let progress: Bool
    let file: FileHandle?

    /// Opens (and truncates) the timeline file at `path`, when given.
    static func open(path: String?) throws -> FileHandle? {
        guard let path else { return nil }
        guard FileManager.default.createFile(atPath: path, contents: Data((Self.header + "\n").utf8)),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw ValidationErrorText("cannot write the timeline to \(path)")
        }
        handle.seekToEndOfFile()
        return handle
    }

    func run() async {
        var tick = self.start
        while !Task.isCancelled {
            tick += .seconds(1)
            try? await Task.sleep(until: tick)
            if Task.isCancelled { break }  // finish() writes the partial second
            self.emit(self.recorder.takeInterval(), second: Int((tick - self.start).seconds.rounded()))
        }
    }

    /// Writes what is left of the last (partial) second, then closes the file.
    func finish() {
        let rest = self.recorder.takeInterval()
        if rest.count > 0 { self.emit(rest, second: Int((ContinuousClock.now - self.start).seconds.rounded(.up))) }
        try? self.file?.close()
    }

    private func emit(_ interval: Recorder.Interval, second: Int) {
        let milliseconds = { (percentile: Double) in
            interval.count == 0 ? 0 : interval.latency.milliseconds(at: percentile)
        }
        let p99 = milliseconds(99)
        if self.progress {
            let line = String(
                format: "\r%4ds  %8d req/s  errors %d  p99 %.3f ms   ", second, interval.count, interval.failed, p99)
            FileHandle.standardError.write(Data(line.utf8))
        }
        if let file {
            let errors =
                interval.errors.isEmpty
                ? "-"
                : interval.errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            let figures = String(
                format: "%d %d %d %d %.3f %.3f %.3f", second, interval.count, interval.succeeded, interval.failed,
                milliseconds(50), p99, interval.count == 0 ? 0 : Double(interval.latency.max) / 1000)
            let line = figures + " " + errors + "\n"
            file.write(Data(line.utf8))
        }
    }
}
