import NIOCore

/// How many event loop threads a daemon runs (NIO's singleton group, which every listener,
/// connection and pool of ours uses). NIO's default is one per core, which suits a process that
/// has its cores to itself. When kmsd, kms-cryptod and PostgreSQL share a few cores (as
/// scripts/kms-local runs them), a loop per core in each process means more threads than cores,
/// and a request crosses threads at most of its hops: on 2 cores one loop each for kmsd and
/// kms-cryptod served the GenerateDataKey+Decrypt mix at 4 x 16 with 17-21 % less of kmsd's CPU
/// per request, 5-13 % more requests a second and a p99 lower by 1-3 ms (docs/benchmarks.md).
public enum EventLoopThreads {
    /// The counts accepted: at least one, and no more than a machine of many cores could use.
    public static let range = 1...256

    /// Sets the count before anything has used the group (at the start of `serve`): NIO stops the
    /// process if it is set after. nil: NIO's default (`NIO_SINGLETON_GROUP_LOOP_COUNT`, else
    /// one per core, within the cgroup's CPU limit).
    public static func apply(_ count: Int?) {
        guard let count else { return }
        precondition(Self.range.contains(count), "event loop threads out of range")
        NIOSingletons.groupLoopCountSuggestion = count
    }

    /// The text of the error for a count out of range, naming the flag.
    public static func invalid(_ flag: String) -> String {
        "\(flag) must be \(Self.range.lowerBound) to \(Self.range.upperBound)"
    }
}
