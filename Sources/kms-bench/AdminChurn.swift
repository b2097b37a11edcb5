import Foundation
import Histogram
import KMSClient
import KMSProto
import Synchronization

/// Key administration at a low steady rate beside the crypto load (--admin-rate): what a
/// service sees over days, squeezed into a soak. Each cycle makes a key and takes it through
/// alias, policy change, on-demand rotation, a grant made and retired, the alias deleted and the
/// key scheduled for deletion (every fourth deletion cancelled again); between cycles the policy
/// of one of the load's own keys is changed, so the caches the load reads from are invalidated
/// while it runs. One request at a time, `rate` per second; a step that fails is counted and the
/// cycle goes on (a failed CreateKey starts the cycle again).
final class AdminChurn: Sendable {
    /// The steps of one cycle, in order.
    enum Step: String, CaseIterable, Sendable {
        case createKey = "CreateKey"
        case createAlias = "CreateAlias"
        case getKeyPolicy = "GetKeyPolicy"
        case putKeyPolicy = "PutKeyPolicy"
        case rotateKeyOnDemand = "RotateKeyOnDemand"
        case createGrant = "CreateGrant"
        case retireGrant = "RetireGrant"
        case deleteAlias = "DeleteAlias"
        case scheduleKeyDeletion = "ScheduleKeyDeletion"
        case cancelKeyDeletion = "CancelKeyDeletion"
        /// GetKeyPolicy and PutKeyPolicy on one of the load's keys (those kms-bench made).
        case getLoadKeyPolicy = "GetKeyPolicy (load key)"
        case putLoadKeyPolicy = "PutKeyPolicy (load key)"
    }

    struct Totals: Sendable {
        var succeeded = 0
        var failed = 0
        var operations: [String: Int] = [:]
        var errors: [String: Int] = [:]
        /// The first failures in full (operation, code and message), for the report.
        var firstFailures: [String] = []
        var keysCreated = 0
        var deletionsScheduled = 0
        var deletionsCancelled = 0
        /// Each step's latency (microseconds), failures included.
        var latencies: [String: Histogram<UInt64>] = [:]
    }

    let rate: Double
    let run: String
    /// Key ids of the load's keys whose policy the churn may change; empty with --key-id.
    let loadKeys: [String]
    /// Stop after this many cycles (and not before: see `drive`); nil: until `stop()`.
    let cycles: Int?
    private let totals = Mutex(Totals())
    private let stopped = Atomic<Bool>(false)

    init(rate: Double, run: String, loadKeys: [String], cycles: Int? = nil) {
        self.rate = rate
        self.run = run
        self.loadKeys = loadKeys
        self.cycles = cycles
    }

    var snapshot: Totals { self.totals.withLock { $0 } }

    /// Ends `drive` after the request in flight.
    func stop() { self.stopped.store(true, ordering: .relaxed) }

    /// The key ids behind the load's references (aliases or ids), for PutKeyPolicy, which takes no alias.
    static func keyIDs(of references: [String], client: KMSClient) async throws -> [String] {
        var ids: [String] = []
        for reference in references {
            var describe = KMSDescribeKeyRequest()
            describe.keyID = reference
            ids.append(try await client.call(KMSMethod.describeKey, describe).keyMetadata.keyID)
        }
        return ids
    }

    /// The steps of cycle `n`: the churn key's life, then a policy change on a load key.
    func steps(cycle n: Int) -> [Step] {
        var steps: [Step] = [
            .createKey, .createAlias, .getKeyPolicy, .putKeyPolicy, .rotateKeyOnDemand, .createGrant, .retireGrant,
            .deleteAlias, .scheduleKeyDeletion,
        ]
        if n % 4 == 3 { steps.append(.cancelKeyDeletion) }
        if !self.loadKeys.isEmpty { steps += [.getLoadKeyPolicy, .putLoadKeyPolicy] }
        return steps
    }

    /// Sends the steps at `rate` per second until `stop()`, or with `cycles` until that many
    /// cycles are done (a `stop()` is then not waited for).
    func drive(client: KMSClient) async {
        let interval = Duration.nanoseconds(Int64(1_000_000_000 / self.rate))
        // Who the churn is: the retiring principal of its grants, so it may retire them itself.
        let me = (try? await client.callerIdentity().arn) ?? ""
        var next = ContinuousClock.now
        var cycle = 0
        var keyID = ""
        var policy = ""
        var grantID = ""
        var loadPolicy = ""
        var steps = self.steps(cycle: 0)[...]
        // A fixed number of cycles is done in full: a stop is for an open-ended churn.
        func stopped() -> Bool { self.cycles == nil && self.stopped.load(ordering: .relaxed) }
        while !stopped() {
            // Sleep in short slices, so a stop is seen soon after the load ends.
            while ContinuousClock.now < next, !stopped() {
                try? await Task.sleep(for: min(.milliseconds(100), next - ContinuousClock.now))
            }
            if stopped() { break }
            next = max(next + interval, ContinuousClock.now - interval)
            if steps.isEmpty {
                cycle += 1
                if let cycles = self.cycles, cycle >= cycles { break }
                steps = self.steps(cycle: cycle)[...]
            }
            let step = steps.removeFirst()
            let alias = "alias/kms-bench/\(self.run)/churn/\(cycle)"
            let loadKey = self.loadKeys.isEmpty ? "" : self.loadKeys[cycle % self.loadKeys.count]
            let started = ContinuousClock.now
            do {
                switch step {
                case .createKey:
                    var create = KMSCreateKeyRequest()
                    create.description_p = "kms-bench \(self.run) churn \(cycle)"
                    keyID = try await client.call(KMSMethod.createKey, create).keyMetadata.keyID
                    self.totals.withLock { $0.keysCreated += 1 }
                case .createAlias:
                    var request = KMSCreateAliasRequest()
                    request.aliasName = alias
                    request.targetKeyID = keyID
                    _ = try await client.call(KMSMethod.createAlias, request)
                case .getKeyPolicy:
                    policy = try await Self.policy(of: keyID, client: client)
                case .putKeyPolicy:
                    try await Self.putPolicy(
                        Self.relabelled(policy, "kms-bench-churn-\(cycle)"), on: keyID, client: client)
                case .rotateKeyOnDemand:
                    var request = KMSRotateKeyOnDemandRequest()
                    request.keyID = keyID
                    _ = try await client.call(KMSMethod.rotateKeyOnDemand, request)
                case .createGrant:
                    var request = KMSCreateGrantRequest()
                    request.keyID = keyID
                    request.granteePrincipal = Self.grantee(of: me)
                    if !me.isEmpty { request.retiringPrincipal = me }
                    request.operations = [.encrypt, .decrypt]
                    grantID = try await client.call(KMSMethod.createGrant, request).grantID
                case .retireGrant:
                    var request = KMSRetireGrantRequest()
                    request.keyID = keyID
                    request.grantID = grantID
                    _ = try await client.call(KMSMethod.retireGrant, request)
                case .deleteAlias:
                    var request = KMSDeleteAliasRequest()
                    request.aliasName = alias
                    _ = try await client.call(KMSMethod.deleteAlias, request)
                case .scheduleKeyDeletion:
                    var request = KMSScheduleKeyDeletionRequest()
                    request.keyID = keyID
                    request.pendingWindowInDays = 7
                    _ = try await client.call(KMSMethod.scheduleKeyDeletion, request)
                    self.totals.withLock { $0.deletionsScheduled += 1 }
                case .cancelKeyDeletion:
                    var request = KMSCancelKeyDeletionRequest()
                    request.keyID = keyID
                    _ = try await client.call(KMSMethod.cancelKeyDeletion, request)
                    self.totals.withLock { $0.deletionsCancelled += 1 }
                case .getLoadKeyPolicy:
                    loadPolicy = try await Self.policy(of: loadKey, client: client)
                case .putLoadKeyPolicy:
                    try await Self.putPolicy(
                        Self.relabelled(loadPolicy, "kms-bench-load-\(cycle)"), on: loadKey, client: client)
                }
                self.record(step, error: nil, took: ContinuousClock.now - started)
            } catch {
                self.record(step, error: error, took: ContinuousClock.now - started)
                // Without its key the rest of the cycle can only fail: start the next one.
                if step == .createKey { steps = [] }
            }
        }
    }

    private func record(_ step: Step, error: KMSClientError?, took: Duration) {
        let micros = max(1, took.microseconds)
        self.totals.withLock { totals in
            totals.operations[step.rawValue, default: 0] += 1
            _ = totals.latencies[
                step.rawValue,
                default: .latencies()
            ].record(micros)
            if let error {
                totals.failed += 1
                totals.errors[error.code, default: 0] += 1
                if totals.firstFailures.count < 10 { totals.firstFailures.append("\(step.rawValue): \(error)") }
            } else {
                totals.succeeded += 1
            }
        }
    }

    static func policy(of keyID: String, client: KMSClient) async throws(KMSClientError) -> String {
        var request = KMSGetKeyPolicyRequest()
        request.keyID = keyID
        request.policyName = "default"
        return try await client.call(KMSMethod.getKeyPolicy, request).policy
    }

    static func putPolicy(_ policy: String, on keyID: String, client: KMSClient) async throws(KMSClientError) {
        var request = KMSPutKeyPolicyRequest()
        request.keyID = keyID
        request.policyName = "default"
        request.policy = policy
        _ = try await client.call(KMSMethod.putKeyPolicy, request)
    }

    /// The key's own policy with a new Id: a real change that grants and denies exactly what
    /// the old one did, so the load it runs beside keeps its permissions.
    static func relabelled(_ policy: String, _ id: String) -> String {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(policy.utf8))) as? [String: Any] else {
            return policy
        }
        object["Id"] = id
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return policy
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A role in the caller's account for the churn's grants (it need not exist).
    static func grantee(of callerARN: String) -> String {
        let parts = callerARN.split(separator: ":", omittingEmptySubsequences: false)
        let account = parts.count > 4 && !parts[4].isEmpty ? parts[4] : "111122223333"
        let partition = parts.count > 1 && !parts[1].isEmpty ? parts[1] : "aws"
        return "arn:\(partition):iam::\(account):role/kms-bench-grantee"
    }

    /// The report's "admin" object.
    func json() -> [String: Any] {
        let totals = self.snapshot
        return [
            "rate": self.rate, "requests": totals.succeeded + totals.failed, "succeeded": totals.succeeded,
            "failed": totals.failed,
            "operations": totals.operations, "errors": totals.errors, "firstFailures": totals.firstFailures,
            "keysCreated": totals.keysCreated, "deletionsScheduled": totals.deletionsScheduled,
            "deletionsCancelled": totals.deletionsCancelled,
            "latencyMs": totals.latencies.mapValues { histogram in
                ["p50": histogram.milliseconds(at: 50), "p99": histogram.milliseconds(at: 99)]
            },
        ]
    }

    /// The report's admin lines.
    func text() -> [String] {
        let totals = self.snapshot
        var lines = [
            String(format: "admin (%.2f/s): %d ok, %d failed; ", self.rate, totals.succeeded, totals.failed)
                + totals.operations.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
            "admin keys: \(totals.keysCreated) created, \(totals.deletionsScheduled) scheduled for deletion, "
                + "\(totals.deletionsCancelled) deletions cancelled",
        ]
        lines.append(
            "admin latency (ms, p50/p99): "
                + totals.latencies.sorted { $0.key < $1.key }.map {
                    "\($0.key) "
                        + String(format: "%.2f/%.2f", $0.value.milliseconds(at: 50), $0.value.milliseconds(at: 99))
                }.joined(separator: ", "))
        lines += totals.firstFailures.map { "admin error \($0)" }
        return lines
    }
}
