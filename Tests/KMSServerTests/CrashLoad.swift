import Foundation
import KMSClient
import KMSProto
import KMSRPC
import KMSTestSupport
import Synchronization

/// What a crash test's own clients were told: every acknowledged request id, change and
/// ciphertext, when each task last succeeded, and how long the slowest request took.
final class CrashLoad: Sendable {
    struct Blob: Sendable {
        var blob: Data
        var context: [String: String]
        var plaintext: Data
    }

    struct State {
        /// Binary-protocol crypto requests told success, by their context's "n", with when.
        var cryptoAcks: [(n: String, operation: String, at: ContinuousClock.Instant)] = []
        /// AWS JSON requests told success: x-amzn-RequestId → what it was.
        var requestIDs: [String: String] = [:]
        var blobs: [Blob] = []
        /// Acknowledged changes, by iteration.
        var keys: [Int: String] = [:]
        var aliases: Set<Int> = []
        var grants: [Int: String] = [:]
        var policies: [Int] = []
        var tags: [Int] = []
        /// Each task's last success.
        var lastSuccess: [String: ContinuousClock.Instant] = [:]
        var failures: [String: Int] = [:]
        var slowest: Duration = .zero
        var slowestLabel = ""
        /// Requests that did not end within the test's own deadline.
        var hung: [String] = []
    }

    let state = Mutex(State())
    let stopped = Atomic<Bool>(false)

    func finished(_ task: String, _ label: String, elapsed: Duration, failure: String?) {
        self.state.withLock { state in
            if elapsed > state.slowest { (state.slowest, state.slowestLabel) = (elapsed, label) }
            if let failure {
                state.failures[failure, default: 0] += 1
            } else {
                state.lastSuccess[task] = .now
            }
        }
    }

    /// Requests acknowledged and refused so far, for progress notes.
    var progress: String {
        self.state.withLock { state in
            "\(state.cryptoAcks.count) crypto and \(state.requestIDs.count) AWS JSON requests acknowledged, refused: "
                + "\(state.failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))"
        }
    }

    /// True once every task in `tasks` succeeded after `instant`; waits at most `limit`.
    func waitForProgress(of tasks: [String], after instant: ContinuousClock.Instant, limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let done = self.state.withLock { state in tasks.allSatisfy { (state.lastSuccess[$0] ?? instant) > instant }
            }
            if done { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

/// An AWS JSON answer reduced to what the crash test keeps.
struct JSONAnswer: Sendable {
    var status: Int
    var requestID: String?
    var code: String?
    /// Top-level string fields, and KeyMetadata's as "KeyMetadata.<name>".
    var fields: [String: String]
}

extension AWSJSONTestClient {
    /// Calls `operation` with `body`, giving up (throwing DeadlineExceeded) after `limit`.
    func json(_ operation: String, _ body: [String: Any], limit: Duration) async throws -> JSONAnswer {
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await KMSRPC.withDeadline(limit) {
            let reply = try await self.call(operation, body: data)
            var fields: [String: String] = [:]
            if let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] {
                for (name, value) in object {
                    if let text = value as? String { fields[name] = text }
                    if let nested = value as? [String: Any] {
                        for (inner, value) in nested {
                            if let text = value as? String { fields["\(name).\(inner)"] = text }
                        }
                    }
                }
            }
            return JSONAnswer(status: reply.status, requestID: reply.requestID, code: reply.code, fields: fields)
        }
    }
}
