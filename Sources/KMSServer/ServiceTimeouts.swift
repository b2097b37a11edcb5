/// The bounds of the service's own waits. kmsd runs with the defaults. Unit tests of the core
/// in-process lift them (`ServiceTimeouts.$current.withValue(.unbounded)`): beside ninety
/// suites' processes on two cores, an in-memory call can wait seconds for a thread, and a
/// bound meant for a database under load would fail the test rather than the database.
public struct ServiceTimeouts: Sendable {
    /// One database call, waiting for a pooled connection included: with PostgreSQL down the
    /// pool would queue a checkout until its circuit breaker trips (15 s and more), and a query
    /// on a stalled connection never returns by itself.
    public var storeCall = Duration.seconds(5)
    /// How long one ListAuditRecords call reads before it answers with what it found and a
    /// marker: a rare combination of filters over a long log must not outlive the client's timeout.
    public var auditPage = Duration.seconds(2)
    /// How long one VerifyAuditLog call walks before it answers with a marker to go on from.
    public var auditVerify = Duration.seconds(3)
    /// One database call of a background job (`backgroundCall`), as a request's: their batches
    /// take milliseconds, and a shutdown waits for the call in flight of each job and flusher.
    public var backgroundCall = Duration.seconds(5)

    /// kmsd's bounds.
    public init() {}

    /// No bound that a test's scheduling could reach.
    public static let unbounded: ServiceTimeouts = {
        var timeouts = ServiceTimeouts()
        timeouts.storeCall = .seconds(3600)
        timeouts.auditPage = .seconds(3600)
        timeouts.auditVerify = .seconds(3600)
        timeouts.backgroundCall = .seconds(3600)
        return timeouts
    }()

    /// The bounds in force for the current task and the tasks it starts.
    @TaskLocal public static var current = ServiceTimeouts()
}
