import struct Foundation.Date

/// One grant as stored: narrow, revocable permission for a grantee on one key.
public struct GrantRecord: Sendable, Hashable {
    public var grantID: String
    public var keyID: String
    public var name: String?
    public var granteePrincipal: String
    public var retiringPrincipal: String?
    public var issuingAccount: String
    /// AWS GrantOperation names ("Decrypt", "ReEncryptFrom", ...).
    public var operations: [String]
    public var encryptionContextEquals: [String: String]?
    public var encryptionContextSubset: [String: String]?
    public var creationDate: Date

    public init(
        grantID: String, keyID: String, name: String?, granteePrincipal: String, retiringPrincipal: String?,
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
