/// PRIMARY or REPLICA, AWS's MultiRegionKeyType.
public enum MultiRegionKeyType: String, Sendable, Hashable {
    case primary = "PRIMARY"
    case replica = "REPLICA"
}

/// Where the related keys of a multi-Region key are, as DescribeKey shows them on each.
public struct MultiRegionConfiguration: Sendable, Hashable {
    /// Whether this key is the primary or a replica.
    public var keyType: MultiRegionKeyType
    /// The region of the primary key.
    public var primaryRegion: String
    /// The regions of the replica keys, sorted.
    public var replicaRegions: [String]

    /// A configuration as stored.
    public init(keyType: MultiRegionKeyType, primaryRegion: String, replicaRegions: [String]) {
        self.keyType = keyType
        self.primaryRegion = primaryRegion
        self.replicaRegions = replicaRegions.sorted()
    }

    /// From each related key's region and whether it is the primary; nil when none is (a
    /// family whose rows are being changed under us).
    public init?(region: String, members: [(region: String, isPrimary: Bool)]) {
        guard let primary = members.first(where: { $0.isPrimary }) else { return nil }
        self.init(
            keyType: primary.region == region ? .primary : .replica, primaryRegion: primary.region,
            replicaRegions: members.filter { !$0.isPrimary }.map { $0.region })
    }
}

extension KeyRecord {
    /// The key ARN of the related key in `region`: the same but for its region.
    public func relatedARN(in region: String) -> String {
        guard !region.isEmpty else { return self.arn }
        var parts = self.arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6 else { return self.arn }
        parts[3] = region
        return parts.joined(separator: ":")
    }

    /// The ARN kms-cryptod binds the key's wrapped material to. Related multi-Region keys share
    /// their material (the same wrapped rows, copied), so theirs is the key ARN without a
    /// region; every other key's is its key ARN.
    public var materialARN: String { Self.materialARN(keyARN: self.arn, keyID: self.keyID) }

    /// `materialARN` of the key `keyID` whose key ARN is `keyARN`.
    public static func materialARN(keyARN: String, keyID: KeyID) -> String {
        guard keyID.isMultiRegion else { return keyARN }
        var parts = keyARN.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6 else { return keyARN }
        parts[3] = ""
        return parts.joined(separator: ":")
    }

    /// Whether this is a multi-Region replica key (rotation and replication belong to the primary).
    public var isReplica: Bool { self.multiRegion?.keyType == .replica }
}
