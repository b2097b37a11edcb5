import Foundation
import KMSDomain
import KMSRPC
import KMSStore

extension KMSService {
    /// Writes the request's audit record, waiting until it is durable, then counts the request
    /// as what its caller is told: a result withheld for lack of its record counts as failed.
    /// A change's record was committed with the change (`changeRecord`): it is queued here to
    /// be chained, and the change is answered as done whatever the log does now
    /// (`AuditLog.append`). Without an audit log (tests of the service alone) only counts.
    func audit(_ caller: Caller?, context: RPCRequestContext, operation: String, error: (any Error)?)
        async throws(KMSError)
    {
        let details = caller?.trail.details.withLock { $0 } ?? AuditTrail.Details()
        let made = caller?.trail.pending.withLock { $0 }
        var pending = made.flatMap { $0.committed ? $0 : nil }
        // A change still under way (its database call passed its deadline and runs on): if it
        // commits, its record is chained then; this request's record says what its caller is told.
        if let made, pending == nil, let log = self.auditLog, !made.whenCommittedLate({ log.adopt([$0]) }) {
            pending = made
        }
        // One log line per refused request; none per successful one at the default level.
        if let error {
            self.logger.info(
                "request refused",
                metadata: [
                    "operation": "\(operation)", "code": "\(RPCError(answering: error).code)",
                    "principal": "\(caller?.principalARN ?? context.connection.identity?.principalARN ?? "anonymous")",
                    "key": "\(details.keyARNs.first ?? "")",
                ])
            if pending != nil {
                // The change committed (with its record, which says it succeeded) before the
                // request failed: the record stands, it tells what was done.
                self.logger.warning(
                    "a request failed after its change was committed", metadata: ["operation": "\(operation)"])
            }
        }
        // Captures the account, not the caller: a nested function holding `caller` copied the
        // whole Caller (every field retained) for each request.
        let account = caller?.account
        let keyARN = details.keyARNs.first
        func count(failed: Bool) {
            guard let account else { return }
            self.usage.count(account: account, keyARN: keyARN, operation: operation, failed: failed)
        }
        guard let log = self.auditLog else { return count(failed: error != nil) }
        if let ahead = caller?.trail.ahead.withLock({ $0 }) {
            guard let error else {
                do {
                    try await ahead.wait()
                } catch {
                    count(failed: true)
                    throw KMSError.internalFailure(
                        "the audit log is unavailable; the request was not answered; retry later")
                }
                return count(failed: false)
            }
            // Failed after its record was queued saying it succeeded: the record says so instead
            // while it is still queued; once it is written, a second record of the request says
            // how it ended (below).
            if log.amend(ahead, errorCode: RPCError(answering: error).code) {
                try? await ahead.wait()
                return count(failed: true)
            }
        }
        let entry: AuditEntry
        if let pending {
            entry = pending.entry
        } else {
            let identity = context.connection.identity
            entry = AuditEntry(
                time: self.now(), requestID: caller?.requestID ?? context.externalID ?? RequestID.next(),
                principalARN: caller?.principalARN ?? identity?.principalARN ?? "anonymous",
                accessKeyID: caller?.accessKeyID ?? identity?.accessKeyID,
                sourceIP: caller?.sourceIP ?? context.connection.remoteIP,
                transport: caller?.transport ?? (identity?.method == .signature ? "aws-json" : "binary"),
                operation: operation, keyARNs: details.keyARNs, alias: details.alias,
                encryptionContext: details.encryptionContext, grantID: details.grantID,
                errorCode: error.map { RPCError(answering: $0).code }
            )
        }
        let refused = error != nil
        do {
            try await log.append(entry, pending: pending)
        } catch {
            count(failed: true)
            // A refused request did nothing: its caller hears why it was refused, and its record
            // stays queued for when the log can take it. Only a result is withheld.
            if refused { return }
            throw KMSError.internalFailure("the audit log is unavailable; the request was not answered; retry later")
        }
        count(failed: error != nil)
    }

    /// The record of the caller's change, to store in the change's transaction (nil without an
    /// audit log). Made when the change is about to be written, from what the request noted so
    /// far; one per request: a request whose record is committed already makes later changes
    /// without one.
    func changeRecord(_ caller: Caller) -> PendingAudit? {
        guard let log = self.auditLog else { return nil }
        return caller.trail.pending.withLock { pending -> PendingAudit? in
            if let existing = pending { return existing.committed ? nil : existing }
            let made = PendingAudit(chain: log.chain, entry: self.successRecord(caller))
            pending = made
            return made
        }
    }

    /// Queues the request's record before kms-cryptod works out its result, so that the
    /// record's commit and the worker's round trip overlap rather than add up (the mix at 1 in
    /// flight: the commit 0.44 ms and the worker 0.15 ms a request). Called once the request is
    /// authorized and every check of its own has passed, just before the worker call, by
    /// operations whose result is rarely a failure: a failure amends the record, or adds one
    /// (`audit`). Verify and VerifyMac, whose answer is a verdict, record it after. Not for a
    /// request that made a change (its record goes with the change).
    func auditAhead(_ caller: Caller) {
        guard let log = self.auditLog, caller.trail.pending.withLock({ $0 == nil }),
            caller.trail.ahead.withLock({ $0 == nil })
        else { return }
        guard let ticket = log.appendAhead(self.successRecord(caller)) else { return }
        caller.trail.ahead.withLock { $0 = ticket }
    }

    /// The record of the caller's request as a success, from what the request noted so far.
    private func successRecord(_ caller: Caller) -> AuditEntry {
        let details = caller.trail.details.withLock { $0 }
        return AuditEntry(
            time: self.now(), requestID: caller.requestID, principalARN: caller.principalARN,
            accessKeyID: caller.accessKeyID,
            sourceIP: caller.sourceIP, transport: caller.transport, operation: caller.operation,
            keyARNs: details.keyARNs,
            alias: details.alias, encryptionContext: details.encryptionContext, grantID: details.grantID,
            errorCode: nil
        )
    }
}
