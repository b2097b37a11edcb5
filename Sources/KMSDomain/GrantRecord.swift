import struct Foundation.Date

/// One grant as stored: narrow, revocable permission for a grantee on one key.
public struct GrantRecord: Sendable, Hashable {
    /// 64 lowercase hex digits of randomness, made by CreateGrant.
    public var grantID: String
    /// The key the grant is on.
    public var keyID: KeyID
    /// The caller's idempotency name: CreateGrant with the same name and parameters returns this grant.
    public var name: String?
    /// The principal ARN the grant gives its operations to.
    public var granteePrincipal: String
    /// The principal ARN that may retire the grant (and list it with ListRetirableGrants); nil when none was named.
    public var retiringPrincipal: String?
    /// The root ARN of the key's account, whoever created the grant.
    public var issuingAccount: String
    /// AWS GrantOperation names ("Decrypt", "ReEncryptFrom", ...).
    public var operations: [String]
    /// The grant applies only when the request's encryption context is exactly this.
    public var encryptionContextEquals: [String: String]?
    /// The grant applies only when the request's encryption context includes all of these pairs.
    public var encryptionContextSubset: [String: String]?
    /// When CreateGrant made it.
    public var creationDate: Date

    /// A grant as stored.
    public init(
        grantID: String, keyID: KeyID, name: String?, granteePrincipal: String, retiringPrincipal: String?,
        issuingAccount: String, operations: [String], encryptionContextEquals: [String: String]?,
        encryptionContextSubset: [String: String]?, creationDate: Date
    ) {
        self.grantID = grantID
        self.keyID = keyID
        self.name = name
        self.granteePrincipal = granteePrincipal
        self.retiringPrincipal = retiringPrincipal
        self.issuingAccount = issuingAccount
        self.operations = operations
        self.encryptionContextEquals = encryptionContextEquals
        self.encryptionContextSubset = encryptionContextSubset
        self.creationDate = creationDate
    }

    /// At most this many grants per key, as AWS allows.
    public static let maximumPerKey = 50_000
}
