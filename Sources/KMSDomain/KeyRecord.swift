import struct Foundation.Date

/// Everything kmsd knows about one key, as stored; what DescribeKey shows and what every
/// operation checks. A value: changes produce a new record with a higher `version`.
public struct KeyRecord: Sendable, Hashable {
    public var keyID: String
    public var arn: String
    public var account: String
    public var region: String
    public var description: String
    public var state: KeyState
    public var usage: KeyUsage
    public var spec: KeySpec
    public var origin: Origin
    public var manager: KeyManager
    public var creationDate: Date
    /// Set while PendingDeletion.
    public var deletionDate: Date?
    public var pendingWindowInDays: Int?
    public var policy: String
    /// The material Encrypt uses; older versions stay for Decrypt.
    public var currentMaterialID: [UInt8]
    /// The row version, bumped by every change (optimistic concurrency, cache freshness).
    public var version: Int64
    /// Set while automatic rotation is enabled (90..2560 days).
    public var rotationPeriodInDays: Int?
    /// When the scheduler rotates the key next (automatic rotation only).
    public var nextRotationDate: Date?
    /// Imported material only: when it expires (KEY_MATERIAL_EXPIRES), and the model itself.
    public var validTo: Date?
    public var expirationModel: ExpirationModel?

    public init(
        keyID: String, arn: String, account: String, region: String, description: String,
        state: KeyState, usage: KeyUsage, spec: KeySpec, origin: Origin, manager: KeyManager,
        creationDate: Date, deletionDate: Date?, pendingWindowInDays: Int?, policy: String,
        currentMaterialID: [UInt8], version: Int64, rotationPeriodInDays: Int? = nil, nextRotationDate: Date? = nil,
        validTo: Date? = nil, expirationModel: ExpirationModel? = nil
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
    }

    /// Rotation exists for symmetric keys of origin AWS_KMS only, as in AWS.
    public var canRotate: Bool { self.spec == .symmetricDefault && self.origin == .awsKMS }

    public var encryptionAlgorithms: [EncryptionAlgorithm] { self.spec.encryptionAlgorithms(usage: self.usage) }
    public var signingAlgorithms: [SigningAlgorithm] { self.spec.signingAlgorithms(usage: self.usage) }
    public var macAlgorithms: [MacAlgorithm] { self.usage == .generateVerifyMac ? self.spec.macAlgorithms : [] }
    public var keyAgreementAlgorithms: [KeyAgreementAlgorithm] { self.spec.keyAgreementAlgorithms(usage: self.usage) }

    /// Whether the key has had material (an EXTERNAL key has none until its first import; after
    /// its imported material is deleted or expires, the id stays: only that material may return).
    public var hasMaterial: Bool { !self.currentMaterialID.isEmpty }
}

/// One alias as stored.
public struct AliasRecord: Sendable, Hashable {
    public var name: String
    public var arn: String
    public var targetKeyID: String
    public var creationDate: Date
    public var lastUpdatedDate: Date

    public init(name: String, arn: String, targetKeyID: String, creationDate: Date, lastUpdatedDate: Date) {
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
    public var partition: String
    public var regions: Set<String>
    public var defaultRegion: String
    public var defaultAccount: String

    public init(partition: String = "aws", regions: Set<String>, defaultRegion: String, defaultAccount: String) {
        self.partition = partition
        self.regions = regions.union([defaultRegion])
        self.defaultRegion = defaultRegion
        self.defaultAccount = defaultAccount
    }

    public func keyARN(account: String, region: String, keyID: String) -> String {
        KMSResourceARN(partition: partition, region: region, account: account, resource: .key(id: keyID)).description
    }

    public func aliasARN(account: String, region: String, name: String) -> String {
        KMSResourceARN(partition: partition, region: region, account: account, resource: .alias(name: name)).description
    }
}

/// The default key policy: the account root may do everything, which delegates access to the
/// account's identity policies (AWS's default).
public enum DefaultKeyPolicy {
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
