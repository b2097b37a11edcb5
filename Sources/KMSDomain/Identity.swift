import struct Foundation.Date

/// An account: the owner of keys, aliases and principals (AWS's 12-digit account id).
public struct AccountRecord: Sendable, Hashable {
    public var accountID: String
    public var name: String
    public var creationDate: Date

    public init(accountID: String, name: String, creationDate: Date) {
        self.accountID = accountID
        self.name = name
        self.creationDate = creationDate
    }

    public static func isValidID(_ id: String) -> Bool {
        Account.isValid(id)
    }

    public static func checkName(_ name: String) throws(KMSError) {
        guard (1...64).contains(name.count), !name.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw .validation("an account name must be 1..64 characters on one line")
        }
    }
}

/// Who can call: an account's root, an IAM-style user or a role, by ARN.
public struct PrincipalRecord: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case root, user, role
    }

    public var arn: String
    public var accountID: String
    public var kind: Kind
    public var name: String
    /// May call the admin service (accounts, principals, access keys, identity policies).
    public var isAdmin: Bool
    public var creationDate: Date

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
    public enum Status: String, Sendable, Hashable {
        case active = "Active"
        case inactive = "Inactive"
    }

    public var accessKeyID: String
    public var principalARN: String
    public var status: Status
    public var wrappedSecret: [UInt8]
    public var creationDate: Date

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
    public var principalARN: String
    public var name: String
    public var document: String

    public init(principalARN: String, name: String, document: String) {
        self.principalARN = principalARN
        self.name = name
        self.document = document
    }

    /// IAM's limit on inline policies per principal is by size; ours is by count as well.
    public static let maximumPerPrincipal = 20
}
