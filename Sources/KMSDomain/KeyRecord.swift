import struct Foundation.Date

/// Everything kmsd knows about one key, as stored; what DescribeKey shows and what every
/// operation checks. A value: changes produce a new record with a higher `version`.
public struct KeyRecord: Sendable, Hashable {
    /// The key's id, as in its ARN.
    public var keyID: KeyID
    /// The full key ARN, fixed at creation.
    public var arn: String
    /// The 12-digit id of the owning account.
    public var account: String
    /// The region the key was created in.
    public var region: String
    /// The caller's free-text description; may be empty.
    public var description: String
    /// Where the key is in its life cycle; `KeyState` says which transitions are allowed.
    public var state: KeyState
    /// What the key is for, fixed at creation.
    public var usage: KeyUsage
    /// The kind of material, fixed at creation.
    public var spec: KeySpec
    /// Where the material comes from: generated here or imported.
    public var origin: Origin
    /// CUSTOMER, or AWS for keys made on first use of an `alias/aws/...` alias.
    public var manager: KeyManager
    /// When CreateKey made the key.
    public var creationDate: Date
    /// Set while PendingDeletion.
    public var deletionDate: Date?
    /// The waiting period ScheduleKeyDeletion was given (7..30 days); set while PendingDeletion.
    public var pendingWindowInDays: Int?
    /// The key policy as JSON text, stored as given.
    public var policy: String
    /// The material Encrypt uses; older versions stay for Decrypt. Nil while the key has never had
    /// material (an EXTERNAL key until its first import); after its imported material is deleted
    /// or expires, the id stays: only that material may return.
    public var currentMaterialID: MaterialID?
    /// The row version, bumped by every change (optimistic concurrency, cache freshness).
    public var version: Int64
    /// Set while automatic rotation is enabled (90..2560 days).
    public var rotationPeriodInDays: Int?
    /// When the scheduler rotates the key next (automatic rotation only).
    public var nextRotationDate: Date?
    /// Imported material only: when it expires (KEY_MATERIAL_EXPIRES), and the model itself.
    public var validTo: Date?
    /// Set with `validTo` for imported material.
    public var expirationModel: ExpirationModel?
    /// A multi-Region key's related keys, when read with them (`KeyStoring.fetch`); nil for other
    /// keys, and in records stores return from a change (their callers drop the cached key).
    public var multiRegion: MultiRegionConfiguration?
    /// The custom key store the key lives in; nil for keys of AWS_KMS and EXTERNAL origin.
    public var customKeyStoreID: CustomKeyStoreID?
    /// An EXTERNAL_KEY_STORE key's external key, as its proxy names it (XksKeyConfiguration.Id).
    public var xksKeyID: String?

    /// A key as stored.
    public init(
        keyID: KeyID, arn: String, account: String, region: String, description: String,
        state: KeyState, usage: KeyUsage, spec: KeySpec, origin: Origin, manager: KeyManager,
        creationDate: Date, deletionDate: Date?, pendingWindowInDays: Int?, policy: String,
        currentMaterialID: MaterialID?, version: Int64, rotationPeriodInDays: Int? = nil, nextRotationDate: Date? = nil,
        validTo: Date? = nil, expirationModel: ExpirationModel? = nil, multiRegion: MultiRegionConfiguration? = nil,
        customKeyStoreID: CustomKeyStoreID? = nil, xksKeyID: String? = nil
    ) {
        self.keyID = keyID
        self.arn = arn
        self.account = account
        self.region = region
        self.description = description
        self.state = state
        self.usage = usage
        self.spec = spec
        self.origin = origin
        self.manager = manager
        self.creationDate = creationDate
        self.deletionDate = deletionDate
        self.pendingWindowInDays = pendingWindowInDays
        self.policy = policy
        self.currentMaterialID = currentMaterialID
        self.version = version
        self.rotationPeriodInDays = rotationPeriodInDays
        self.nextRotationDate = nextRotationDate
        self.validTo = validTo
        self.expirationModel = expirationModel
        self.multiRegion = multiRegion
        self.customKeyStoreID = customKeyStoreID
        self.xksKeyID = xksKeyID
    }

    /// Rotation exists for symmetric keys of origin AWS_KMS only, as in AWS.
    public var canRotate: Bool { self.spec == .symmetricDefault && self.origin == .awsKMS }

    /// Keys in custom key stores rotate neither automatically nor on demand, as in AWS.
    public var inCustomKeyStore: Bool { self.customKeyStoreID != nil }

    /// A symmetric encryption key of origin EXTERNAL: it rotates on demand only, to material
    /// imported for it (ImportType NEW_KEY_MATERIAL), as in AWS since 2025.
    public var rotatesImportedMaterial: Bool { self.spec == .symmetricDefault && self.origin == .external }

    /// What Encrypt and Decrypt accept on this key; empty unless its usage is ENCRYPT_DECRYPT.
    public var encryptionAlgorithms: [EncryptionAlgorithm] { self.spec.encryptionAlgorithms(usage: self.usage) }
    /// What Sign and Verify accept on this key; empty unless its usage is SIGN_VERIFY.
    public var signingAlgorithms: [SigningAlgorithm] { self.spec.signingAlgorithms(usage: self.usage) }
    /// What GenerateMac and VerifyMac accept on this key; empty unless its usage is GENERATE_VERIFY_MAC.
    public var macAlgorithms: [MacAlgorithm] { self.usage == .generateVerifyMac ? self.spec.macAlgorithms : [] }
    /// What DeriveSharedSecret accepts on this key; empty unless its usage is KEY_AGREEMENT.
    public var keyAgreementAlgorithms: [KeyAgreementAlgorithm] { self.spec.keyAgreementAlgorithms(usage: self.usage) }
}

/// One alias as stored.
public struct AliasRecord: Sendable, Hashable {
    /// The full `alias/...` name.
    public var name: String
    /// The alias ARN, in the account and region of its key.
    public var arn: String
    /// The key the alias points to.
    public var targetKeyID: KeyID
    /// When CreateAlias made it.
    public var creationDate: Date
    /// When UpdateAlias last moved it; the creation date until then.
    public var lastUpdatedDate: Date

    /// An alias as stored.
    public init(name: String, arn: String, targetKeyID: KeyID, creationDate: Date, lastUpdatedDate: Date) {
        self.name = name
        self.arn = arn
        self.targetKeyID = targetKeyID
        self.creationDate = creationDate
        self.lastUpdatedDate = lastUpdatedDate
    }
}

/// Where a deployment lives: its partition, the regions it serves and the account a caller acts
/// in until authentication decides otherwise.
public struct ServiceScope: Sendable, Hashable {
    /// The ARN partition of every key, alias and principal (`aws` unless configured).
    public var partition: String
    /// The regions served; always includes `defaultRegion`.
    public var regions: Set<String>
    /// The region of requests whose credentials name none.
    public var defaultRegion: String
    /// The account a caller acts in until authentication names another.
    public var defaultAccount: String
    /// Regions served by other deployments, which multi-Region keys replicate to through
    /// PostgreSQL's logical replication, each with its kms-cryptod's transport public key (DER
    /// SubjectPublicKeyInfo), which material sent there is sealed for (`--peer-region`).
    public var peerRegions: [String: [UInt8]] = [:]

    /// A scope; `regions` is widened to include `defaultRegion`.
    public init(partition: String = "aws", regions: Set<String>, defaultRegion: String, defaultAccount: String) {
        self.partition = partition
        self.regions = regions.union([defaultRegion])
        self.defaultRegion = defaultRegion
        self.defaultAccount = defaultAccount
    }

    /// The ARN of key `keyID` in `account` and `region`, in this scope's partition.
    public func keyARN(account: String, region: String, keyID: KeyID) -> String {
        KMSResourceARN(partition: partition, region: region, account: account, resource: .key(id: keyID)).description
    }

    /// The ARN of alias `name` (the full `alias/...` name) in `account` and `region`.
    public func aliasARN(account: String, region: String, name: String) -> String {
        KMSResourceARN(partition: partition, region: region, account: account, resource: .alias(name: name)).description
    }
}

/// The default key policy: the account root may do everything, which delegates access to the
/// account's identity policies (AWS's default).
public enum DefaultKeyPolicy {
    /// The default policy of a key of `account`, as the JSON text AWS writes.
    public static func document(partition: String, account: String) -> String {
        """
        {
          "Version" : "2012-10-17",
          "Id" : "key-default-1",
          "Statement" : [ {
            "Sid" : "Enable IAM User Permissions",
            "Effect" : "Allow",
            "Principal" : {
              "AWS" : "arn:\(partition):iam::\(account):root"
            },
            "Action" : "kms:*",
            "Resource" : "*"
          } ]
        }
        """
    }
}
