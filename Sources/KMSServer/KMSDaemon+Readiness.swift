import KMSDomain
import KMSRPC
import KMSStore
import KMSWorkerProto
import Logging
import PostgresNIO

extension KMSDaemon {
    /// How long each readiness check may take before it counts as failed: well under a
    /// Kubernetes probe's default timeout (1 s) plus its period.
    static let readinessCheckLimit: Duration = .milliseconds(800)

    /// kmsd's readiness (GET /readyz): the database answers a cheap query and has every
    /// migration of this binary; kms-cryptod answers Describe over the pool; the audit log takes
    /// records (not in an outage). Each check is bounded, and their result is kept a second.
    static func readinessChecks(
        client: PostgresClient, worker: WorkerPool, auditLog: (any AuditWriting)?, logger: Logger
    ) -> [Readiness.Check] {
        let limit = Self.readinessCheckLimit
        var checks: [Readiness.Check] = [
            {
                do {
                    let missing = try await withDeadline(limit) {
                        try await Migrations.missing(on: client, logger: logger)
                    }
                    return missing == 0
                        ? [] : [Readiness.Failure("migrations", "\(missing) of this kmsd's migrations are not applied")]
                } catch is DeadlineExceeded {
                    return [Readiness.Failure("database", "no answer within \(limit)")]
                } catch {
                    return [Readiness.Failure("database", "unreachable")]
                }
            },
            {
                do {
                    _ = try await withDeadline(limit) {
                        try await worker.call(WorkerMethod.describe, WorkerDescribeRequest())
                    }
                    return []
                } catch is DeadlineExceeded {
                    return [Readiness.Failure("worker", "kms-cryptod did not answer within \(limit)")]
                } catch {
                    return [Readiness.Failure("worker", "kms-cryptod is unreachable")]
                }
            },
        ]
        if let auditLog {
            checks.append {
                do {
                    try auditLog.admit()
                    return []
                } catch {
                    return [Readiness.Failure("audit", "the audit log cannot be written")]
                }
            }
        }
        return checks
    }
}
