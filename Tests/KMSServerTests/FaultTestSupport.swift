import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Synchronization

/// How one request ended and how long it took.
struct Outcome: Sendable, CustomStringConvertible {
    let label: String
    let error: KMSClientError?
    let elapsed: Duration

    var succeeded: Bool { self.error == nil }
    var code: String? { self.error?.code }

    var description: String {
        "\(self.label): \(self.error.map { "\($0.code)\($0.retryable ? " (retryable)" : "")" } ?? "ok") after "
            + "\(self.elapsed)"
    }
}

/// Runs `body`, noting how it ended and how long it took.
func timed(_ label: String, _ body: () async throws -> Void) async -> Outcome {
    let started = ContinuousClock.now
    do {
        try await body()
        return Outcome(label: label, error: nil, elapsed: ContinuousClock.now - started)
    } catch let error as KMSClientError {
        return Outcome(label: label, error: error, elapsed: ContinuousClock.now - started)
    } catch {
        return Outcome(
            label: label, error: KMSClientError(code: "\(type(of: error))", message: "\(error)", retryable: false),
            elapsed: ContinuousClock.now - started)
    }
}

/// Runs the bodies at once and returns their outcomes in order.
func concurrently(_ requests: [(String, @Sendable () async throws -> Void)]) async -> [Outcome] {
    await withTaskGroup(of: (Int, Outcome).self) { group in
        for (index, (label, body)) in requests.enumerated() {
            group.addTask { (index, await timed(label, body)) }
        }
        var outcomes: [(Int, Outcome)] = []
        for await outcome in group { outcomes.append(outcome) }
        return outcomes.sorted { $0.0 < $1.0 }.map(\.1)
    }
}

/// Tries `body` every `interval` until it succeeds, at most `attempts` times; the last outcome.
func untilSuccess(
    attempts: Int = 20, interval: Duration = .milliseconds(500), _ label: String, _ body: () async throws -> Void
) async -> Outcome {
    var last = Outcome(
        label: label, error: KMSClientError(code: "NotTried", message: "", retryable: false), elapsed: .zero)
    for attempt in 0..<attempts {
        if attempt > 0 { try? await Task.sleep(for: interval) }
        last = await timed(label, body)
        if last.succeeded { return last }
    }
    return last
}

/// What `read` gives once `settledWhen` holds, or its last value after `limit`: for what kmsd
/// writes in the background (usage counters flushed every second, a change's record chained when
/// its commit is heard after its request's deadline), read until it has caught up, never after a
/// fixed sleep. A read that fails (kmsd still recovering from the fault) is tried again until
/// the bound, then its error is thrown. The caller asserts on the value, so a bound that passes
/// still fails the test.
func settled<T: Sendable>(
    within limit: Duration = .seconds(20), _ read: () async throws -> T, settledWhen: (T) -> Bool
) async throws -> T {
    let end = ContinuousClock.now + limit
    while true {
        do {
            let value = try await read()
            if settledWhen(value) || ContinuousClock.now >= end { return value }
        } catch {
            if ContinuousClock.now >= end { throw error }
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// A setup step, tried again while kmsd refuses it retryably: with a one-second audit timeout
/// on a loaded machine a slow commit can start an outage before the fault does, and the setup
/// is not what is tested. A step that keeps failing fails the test.
func settingUp<T: Sendable>(_ label: String, _ body: () async throws -> T) async throws -> T {
    var attempt = 0
    while true {
        attempt += 1
        do {
            return try await body()
        } catch let error as KMSClientError where error.retryable && attempt < 20 {
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}

extension KMSClient {
    func generateDataKey(_ keyID: String, context: [String: String]) async throws -> KMSGenerateDataKeyResponse {
        var request = KMSGenerateDataKeyRequest()
        request.keyID = keyID
        request.numberOfBytes = 32
        request.encryptionContext = context
        return try await self.call(KMSMethod.generateDataKey, request)
    }

    /// Every audit record that `configure` selects, page by page.
    func auditRecords(_ configure: (inout AdminListAuditRecordsRequest) -> Void = { _ in }) async throws
        -> [AdminAuditRecord]
    {
        var records: [AdminAuditRecord] = []
        var request = AdminListAuditRecordsRequest()
        request.limit = 1000
        configure(&request)
        repeat {
            let page = try await self.call(AdminMethod.listAuditRecords, request)
            records += page.records
            request.marker = page.nextMarker
        } while !request.marker.isEmpty
        return records
    }

    /// The whole log verified, following the markers as `kms audit verify` does.
    func verifyAuditLog() async throws -> AdminVerifyAuditLogResponse {
        var request = AdminVerifyAuditLogRequest()
        while true {
            let result = try await self.call(AdminMethod.verifyAuditLog, request)
            guard result.intact, !result.nextMarker.isEmpty else { return result }
            request.marker = result.nextMarker
        }
    }

    /// Successful requests of `operations` on `keyARN` as usage counts them (requests - failed).
    func countedSuccesses(keyARN: String, operations: Set<String>) async throws -> Int64 {
        var request = AdminGetUsageRequest()
        request.keyArn = keyARN
        let usage = try await self.call(AdminMethod.getUsage, request)
        return usage.requests.filter { operations.contains($0.operation) }.reduce(0) { $0 + $1.requests - $1.failed }
    }
}
