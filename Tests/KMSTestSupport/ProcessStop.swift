import Foundation

/// How a child process's stop ended.
public enum ProcessStop: Sendable, Equatable, CustomStringConvertible {
    /// It was not running.
    case notRunning
    /// It exited with this status (0: its shutdown finished).
    case exited(Int32)
    /// A signal ended it (SIGTERM before it handled signals, or a crash).
    case signalled(Int32)
    /// It still ran after the bound and was killed.
    case killed(after: Duration)

    /// How `process`, which has ended, ended.
    init(_ process: Process) {
        self =
            process.terminationReason == .exit
            ? .exited(process.terminationStatus) : .signalled(process.terminationStatus)
    }

    public var description: String {
        switch self {
        case .notRunning: "not running"
        case .exited(let status): "exited \(status)"
        case .signalled(let signal): "ended by signal \(signal)"
        case .killed(let limit): "still running \(limit) after SIGTERM, killed"
        }
    }
}
