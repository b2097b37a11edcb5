import struct Foundation.Date

/// An account: the owner of keys, aliases and principals (AWS's 12-digit account id).
public struct AccountRecord: Sendable, Hashable {
    /// The 12-digit account id.
    public var accountID: String
    /// A human-readable label (1 to 64 characters on one line); not unique and not part of any ARN.
    public var name: String
    /// When the account was created.
    public var creationDate: Date

    /// An account as stored.
    public init(accountID: String, name: String, creationDate: Date) {
        self.accountID = accountID
        self.name = name
        self.creationDate = creationDate
    }

    /// Whether `id` is a valid account id: exactly 12 digits.
    public static func isValidID(_ id: String) -> Bool {
        Account.isValid(id)
    }

    /// Checks an account name; throws a validation error unless it is 1 to 64 characters on one line.
    public static func checkName(_ name: String) throws(KMSError) {
        guard (1...64).contains(name.count), !name.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw .validation("an account name must be 1..64 characters on one line")
        }
    }
}

/// Who can call: an account's root, an IAM-style user or a role, by ARN.
public struct PrincipalRecord: Sendable, Hashable {
    /// What kind of principal, as its ARN shows it.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case root, user, role
    }

    /// The principal's ARN, the identity its policies and grants name (see `arn(partition:account:kind:name:)`).
    public var arn: String
    /// The 12-digit id of the account the principal belongs to.
    public var accountID: String
    /// Root, user or role.
    public var kind: Kind
    /// The user or role name in the ARN; "root" for an account's root.
    public var name: String
    /// May call the admin service (accounts, principals, access keys, identity policies).
    public var isAdmin: Bool
    /// When the principal was created.
    public var creationDate: Date

    /// A principal as stored.
    public init(arn: String, accountID: String, kind: Kind, name: String, isAdmin: Bool, creationDate: Date) {
        self.arn = arn
        self.accountID = accountID
        self.kind = kind
        self.name = name
        self.isAdmin = isAdmin
        self.creationDate = creationDate
    }

    /// `arn:<partition>:iam::<account>:root`, `...:user/<name>` or `...:role/<name>`.
    public static func arn(partition: String, account: String, kind: Kind, name: String) -> String {
        switch kind {
        case .root: "arn:\(partition):iam::\(account):root"
        case .user: "arn:\(partition):iam::\(account):user/\(name)"
        case .role: "arn:\(partition):iam::\(account):role/\(name)"
        }
    }

    /// IAM's rule for user and role names, and for policy names (up to 128).
    public static func checkName(_ name: String, field: String, maximum: Int = 64) throws(KMSError) {
        let allowed: (Unicode.Scalar) -> Bool = { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || ("0"..."9").contains(scalar) || "+=,.@_-".unicodeScalars.contains(scalar)
        }
        guard (1...maximum).contains(name.unicodeScalars.count), name.unicodeScalars.allSatisfy(allowed) else {
            throw .validation("\(field) must be 1..\(maximum) characters of A-Z, a-z, 0-9 and +=,.@_-")
        }
    }

    /// The account of a principal ARN (`arn:*:iam::<account>:...`), if it is one.
    public static func account(ofARN arn: String) -> String? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam", AccountRecord.isValidID(String(parts[4])) else {
            return nil
        }
        return String(parts[4])
    }
}

/// A long-term credential of a principal. The secret is never held here: only its wrapped form,
/// which only kms-cryptod can open.
public struct AccessKeyRecord: Sendable, Hashable {
    /// Whether the key may sign requests; an inactive key is kept but refused.
    public enum Status: String, Sendable, Hashable {
        case active = "Active"
        case inactive = "Inactive"
    }

    /// The public id the caller signs with: "AKIA" then 16 characters of [A-Z2-7].
    public var accessKeyID: String
    /// The ARN of the principal the key authenticates as.
    public var principalARN: String
    /// Whether the key is accepted.
    public var status: Status
    /// The secret wrapped under the root keyring, bound to the key id and principal; only kms-cryptod unwraps it.
    public var wrappedSecret: [UInt8]
    /// When the key was created.
    public var creationDate: Date

    /// An access key as stored.
    public init(accessKeyID: String, principalARN: String, status: Status, wrappedSecret: [UInt8], creationDate: Date) {
        self.accessKeyID = accessKeyID
        self.principalARN = principalARN
        self.status = status
        self.wrappedSecret = wrappedSecret
        self.creationDate = creationDate
    }

    /// AWS IAM's limit per user.
    public static let maximumPerPrincipal = 2
}

/// A named identity policy attached to a principal (IAM's inline policies).
public struct IdentityPolicyRecord: Sendable, Hashable {
    /// The ARN of the principal the policy is attached to.
    public var principalARN: String
    /// The policy name, unique per principal (IAM's rule, up to 128 characters).
    public var name: String
    /// The policy document as JSON text, stored as given.
    public var document: String

    /// An identity policy as stored.
    public init(principalARN: String, name: String, document: String) {
        self.principalARN = principalARN
        self.name = name
        self.document = document
    }

    /// IAM's limit on inline policies per principal is by size; ours is by count as well.
    public static let maximumPerPrincipal = 20
}
