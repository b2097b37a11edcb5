/// The KMS ARNs: `arn:<partition>:kms:<region>:<account>:key/<key id>` and
/// `arn:<partition>:kms:<region>:<account>:alias/<name>`.
public struct KMSResourceARN: Sendable, Hashable, CustomStringConvertible {
    /// What an ARN names: a key by its id, or an alias by its full `alias/...` name.
    public enum Resource: Sendable, Hashable {
        case key(id: KeyID)
        case alias(name: String)  // the full "alias/..." name
    }

    /// `aws` for AWS's commercial regions; a deployment may choose its own.
    public let partition: String
    /// The region the resource lives in, as written in the ARN.
    public let region: String
    /// The owning account's 12-digit id.
    public let account: String
    /// The key or alias the ARN names.
    public let resource: Resource

    /// An ARN from its parts, unchecked: callers pass values they have already validated.
    public init(partition: String, region: String, account: String, resource: Resource) {
        self.partition = partition
        self.region = region
        self.account = account
        self.resource = resource
    }

    /// Parses an ARN string; nil when it is not a well-formed KMS key or alias ARN.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "kms",
            !parts[1].isEmpty, !parts[3].isEmpty, Account.isValid(String(parts[4]))
        else { return nil }
        let resource = parts[5]
        if resource.hasPrefix("key/") {
            guard let id = KeyID(String(resource.dropFirst(4))) else { return nil }
            self.resource = .key(id: id)
        } else if resource.hasPrefix("alias/") {
            self.resource = .alias(name: String(resource))
        } else {
            return nil
        }
        self.partition = String(parts[1])
        self.region = String(parts[3])
        self.account = String(parts[4])
    }

    /// The ARN as AWS writes it; parsing it gives back an equal value.
    public var description: String {
        switch self.resource {
        case .key(let id): return "arn:\(partition):kms:\(region):\(account):key/\(id)"
        case .alias(let name): return "arn:\(partition):kms:\(region):\(account):\(name)"
        }
    }
}

/// AWS account id rules.
public enum Account {
    /// AWS account ids are exactly 12 digits.
    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 12 && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}
