import Foundation
import KMSStore
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Chains into this kmsd's log the records left in the outbox: a change commits with its record
/// in `kms_audit_pending`, and a kmsd killed before chaining it finds it when it starts again
/// under the same chain. On Kubernetes the chain is the pod's name and a replaced pod never
/// comes back, so without this its last records would wait forever. Its own chain's too: a
/// change whose commit this kmsd never heard (the connection lost with the answer) left its
/// record there, and a kmsd that keeps running would chain it only at its next start.
///
/// Adopting is safe against a kmsd that is alive after all (a long outage): the append takes a
/// pending row only if it is still there and deletes it in the same commit, so a record is
/// chained once, by whichever writer gets there first; the other finds it gone and lets go.
/// `age` only keeps replicas from racing for records their owner is about to chain.
public final class AuditOrphanSweeper: Service, Sendable {
    let client: PostgresClient
    let log: any AuditWriting
    let age: Duration
    let interval: Duration
    let logger: Logger
    let clock: ServiceClock
    /// Unreadable rows, reported once per process and passed over by later rounds.
    private let reported = Mutex(Set<UUID>())
    /// The most records one query of a round reads.
    public static let batch = 1000

    /// A sweeper handing `log` the records of other chains pending longer than `age`, every
    /// `interval`.
    public init(
        client: PostgresClient, log: any AuditWriting, age: Duration, interval: Duration, logger: Logger,
        clock: ServiceClock = .system
    ) {
        self.client = client
        self.log = log
        self.age = age
        self.interval = interval
        self.logger = logger
        self.clock = clock
    }

    /// The time between rounds for records adopted after `age`: often enough that an orphan
    /// waits little past its age, at most a minute.
    public static func interval(forAge age: Duration) -> Duration {
        max(.seconds(1), min(.seconds(60), age / 2))
    }

    /// Sweeps until a graceful shutdown; a failed round is logged and the next tries again.
    public func run() async throws {
        await Periodic.rounds(
            every: self.interval, clock: self.clock, logger: self.logger, failure: "audit outbox sweep failed"
        ) { _ = try await self.sweepOnce() }
    }

    /// One round: the number of records handed to the log. Rows that cannot be read are
    /// reported once and passed over from then on (they stay in the outbox for whoever looks
    /// into them; one repaired by hand is chained by the next kmsd to start); a batch of nothing
    /// but such rows is followed at once by the next, so they never hide the records behind them.
    @discardableResult
    public func sweepOnce() async throws -> Int {
        var records: [PendingAudit] = []
        while true {
            let skipping = self.reported.withLock { Array($0) }
            let (readable, unreadable) = try await backgroundCall {
                try await AuditOutbox.orphaned(
                    olderThan: self.age, limit: Self.batch, skipping: skipping, client: self.client,
                    logger: self.logger)
            }
            let unreported = self.reported.withLock { reported in
                unreadable.filter { reported.insert($0.id).inserted }
            }
            if !unreported.isEmpty {
                self.logger.critical(
                    """
                    audit records committed with their changes cannot be read: they were changed outside the service; \
                    they are left in kms_audit_pending
                    """,
                    metadata: ["records": "\(unreported.map { "\($0.chain)/\($0.id.uuidString.lowercased())" })"])
            }
            records = readable
            // A full batch of unreadable rows only: the next batch lies behind them.
            guard readable.isEmpty, unreadable.count == Self.batch, !unreported.isEmpty else { break }
        }
        guard !records.isEmpty else { return 0 }
        var chains: [String: Int] = [:]
        for record in records { chains[record.chain, default: 0] += 1 }
        self.logger.notice(
            """
            chaining audit records left in the outbox (by a kmsd that stopped and whose chain did not come back, \
            or by a change whose commit its kmsd did not hear)
            """,
            metadata: [
                "chain": "\(self.log.chain)", "records": "\(records.count)",
                "from": "\(chains.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
            ])
        self.log.adopt(records)
        return records.count
    }
}
