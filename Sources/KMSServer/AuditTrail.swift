import Foundation
import KMSCrypto
import KMSDomain
import KMSRPC
import KMSStore
import Logging
import Synchronization

/// What one request did, filled in as it goes (the service notes the key, alias, context and
/// grant of each of the gate's decisions, `KMSService.authorize`), then written as its audit record.
public final class AuditTrail: Sendable {
    struct Details {
        var keyARNs: [String] = []
        var alias: String?
        var encryptionContext: [String: String]?
        var grantID: String?
    }

    let details = Mutex(Details())

    /// An empty trail, made with each `Caller`.
    public init() {}

    func note(key: CachedKey, encryptionContext: [String: String]?) {
        self.details.withLock { details in
            if !details.keyARNs.contains(key.record.arn) { details.keyARNs.append(key.record.arn) }
            if let alias = key.requestAlias, details.alias == nil { details.alias = alias }
            // The edge refuses larger contexts before anything is recorded; this keeps one
            // that slipped past (a new operation) out of the log rather than storing it.
            if let encryptionContext, !encryptionContext.isEmpty, details.encryptionContext == nil,
                (try? Edge.encryptionContext(encryptionContext)) != nil
            {
                details.encryptionContext = encryptionContext
            }
        }
    }

    /// Takes back a key noted for a key that turned out not to exist (a provisional AWS managed key).
    func forget(keyARN: String) {
        self.details.withLock { $0.keyARNs.removeAll { $0 == keyARN } }
    }

    /// A key the request made (CreateKey), so that its history starts with its creation.
    func note(keyARN: String) {
        self.details.withLock { details in
            if !details.keyARNs.contains(keyARN) { details.keyARNs.append(keyARN) }
        }
    }

    /// A decision of the gate: the key it was on (a refusal's too) with its encryption context,
    /// and the grant that allowed it.
    func note(_ decision: AccessDecision) {
        guard let key = decision.key else { return }
        self.note(key: key, encryptionContext: decision.encryptionContext)
        if let grantID = decision.grantID { self.note(grantID: grantID) }
    }

    func note(grantID: String) {
        self.details.withLock { $0.grantID = grantID }
    }

    /// The record of the request's change, stored with the change (`AuditOutbox`); set once the
    /// change is about to be written.
    let pending = Mutex<PendingAudit?>(nil)

    /// The request's record when it was queued ahead of its result (`KMSService.auditAhead`).
    let ahead = Mutex<AuditTicket?>(nil)
}
