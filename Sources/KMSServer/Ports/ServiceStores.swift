import KMSDomain
import KMSStore
import Logging
import PostgresNIO

/// The stores the service core runs on, one per port: PostgreSQL's in kmsd (`postgres`), any
/// others that keep the ports' contracts elsewhere. The audit log's writer (`AuditWriting`) is
/// not among them: it is the service's own; `auditRecords` only reads what it wrote.
public struct ServiceStores: Sendable {
    /// Keys and their material versions.
    public var keys: any KeyStoring
    /// Aliases.
    public var aliases: any AliasStoring
    /// Grants.
    public var grants: any GrantStoring
    /// Accounts, principals, access keys and identity policies.
    public var identities: any IdentityStoring
    /// Key rotations and tags.
    public var rotations: any RotationStoring
    /// Each key's last use (GetKeyLastUsage).
    public var lastUsage: any LastUsageStoring
    /// The audit log as read back (ListAuditRecords, VerifyAuditLog).
    public var auditRecords: any AuditReading
    /// Request counters (GetUsage).
    public var usage: any UsageStoring
    /// Keys as billed (GetUsage).
    public var billing: any BillingStoring
    /// Root key re-wrap jobs and the blobs they re-wrap.
    public var rewraps: any RewrapStoring
    /// Multi-Region keys' families; nil: this store serves none.
    public var multiRegionKeys: (any MultiRegionKeyStoring)?
    /// Multi-Region keys' exports to and imports from peer deployments; nil: none.
    public var peerReplication: (any PeerReplicationStoring)?
    /// Custom key stores; nil: this store serves none.
    public var customKeyStores: (any CustomKeyStoring)?

    /// A set of stores from its parts.
    public init(
        keys: any KeyStoring, aliases: any AliasStoring, grants: any GrantStoring, identities: any IdentityStoring,
        rotations: any RotationStoring, lastUsage: any LastUsageStoring, auditRecords: any AuditReading,
        usage: any UsageStoring, billing: any BillingStoring, rewraps: any RewrapStoring,
        multiRegionKeys: (any MultiRegionKeyStoring)? = nil, peerReplication: (any PeerReplicationStoring)? = nil,
        customKeyStores: (any CustomKeyStoring)? = nil
    ) {
        self.keys = keys
        self.aliases = aliases
        self.grants = grants
        self.identities = identities
        self.rotations = rotations
        self.lastUsage = lastUsage
        self.auditRecords = auditRecords
        self.usage = usage
        self.billing = billing
        self.rewraps = rewraps
        self.multiRegionKeys = multiRegionKeys
        self.peerReplication = peerReplication
        self.customKeyStores = customKeyStores
    }

    /// kmsd's stores: PostgreSQL's, over `client`'s pool; `scope` supplies the partition of the
    /// alias ARNs they build.
    public static func postgres(client: PostgresClient, scope: ServiceScope, logger: Logger) -> ServiceStores {
        ServiceStores(
            keys: KeyStore(client: client, logger: logger),
            aliases: AliasStore(client: client, scope: scope, logger: logger),
            grants: GrantStore(client: client, logger: logger),
            identities: IdentityStore(client: client, logger: logger),
            rotations: RotationStore(client: client, logger: logger),
            lastUsage: LastUsageStore(client: client, logger: logger),
            auditRecords: AuditStore(client: client, logger: logger),
            usage: UsageStore(client: client, logger: logger),
            billing: BillingStore(client: client, logger: logger),
            rewraps: RewrapStore(client: client, logger: logger, lockStatements: .backgroundCalls),
            multiRegionKeys: KeyStore(client: client, logger: logger),
            peerReplication: KeyStore(client: client, logger: logger),
            customKeyStores: CustomKeyStoreStore(client: client, logger: logger)
        )
    }
}
