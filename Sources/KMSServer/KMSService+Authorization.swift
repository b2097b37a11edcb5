import KMSDomain
import KMSPolicy

extension KMSService {
    /// Authorizes `action` on `key` (nil: on no key) through the gate, and records its decision
    /// in the request's audit trail, a refusal included: the one place a decision is recorded.
    /// Returns what allowed the action; throws AccessDeniedException.
    @discardableResult
    func authorize(
        _ caller: Caller, action: String, key: CachedKey?, encryptionContext: [String: String]? = nil,
        conditions: [String: [String]] = [:]
    ) throws(KMSError) -> KeyAccess.Via {
        try self.record(
            self.gate.decide(
                caller, action: action, key: key, encryptionContext: encryptionContext, conditions: conditions),
            for: caller)
    }

    /// `action` on `key` by the caller's identity policies alone (`RequestGate.decideByIdentity`),
    /// recorded as `authorize` records.
    @discardableResult
    func authorizeByIdentity(_ caller: Caller, action: String, key: CachedKey) throws(KMSError) -> KeyAccess.Via {
        try self.record(self.gate.decideByIdentity(caller, action: action, key: key), for: caller)
    }

    /// Notes `decision` in the caller's audit trail (the key, a refused one's too, its encryption
    /// context and the grant that allowed it), then returns what allowed it or throws the refusal.
    @discardableResult
    func record(_ decision: AccessDecision, for caller: Caller) throws(KMSError) -> KeyAccess.Via {
        caller.trail.note(decision)
        return try decision.get()
    }
}
