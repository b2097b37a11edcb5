import KMSDomain
import KMSPolicy

/// What the gate decided about one request's action, and on what: the key it judged (nil for
/// an action on no key) with the encryption context it judged under, and either what allowed
/// it (the key policy, an identity policy, or which grant) or the AccessDeniedException that
/// refuses it. The gate only decides; the service records the decision in the request's audit
/// trail (`KMSService.authorize`), a refusal included, which still names the key.
public struct AccessDecision: Sendable {
    /// The key the action was judged on; nil for an IAM action on "*".
    public let key: CachedKey?
    /// The encryption context the action was judged under, as the request gave it.
    public let encryptionContext: [String: String]?
    /// What allowed the action, or why it is refused.
    public let outcome: Result<KeyAccess.Via, KMSError>

    /// A decision on `key` (nil: on no key) under `encryptionContext`.
    public init(key: CachedKey?, encryptionContext: [String: String]?, outcome: Result<KeyAccess.Via, KMSError>) {
        self.key = key
        self.encryptionContext = encryptionContext
        self.outcome = outcome
    }

    /// The grant that allowed the action, if a grant did.
    public var grantID: String? {
        if case .success(.grant(let id)) = self.outcome { return id }
        return nil
    }

    /// What allowed the action; throws the refusal.
    public func get() throws(KMSError) -> KeyAccess.Via {
        switch self.outcome {
        case .success(let via): return via
        case .failure(let error): throw error
        }
    }
}
