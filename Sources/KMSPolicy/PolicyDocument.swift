import KMSDomain

/// A parsed, validated AWS JSON policy, ready to evaluate without further parsing: key
/// policies are compiled once per key version and evaluated in microseconds on the hot path.
public struct PolicyDocument: Sendable, Hashable {
    public enum Kind: Sendable {
        /// A key policy: every statement names a Principal or NotPrincipal.
        case resource
        /// An identity policy attached to a principal: no statement names a principal.
        case identity
    }

    public let version: String?
    public let id: String?
    public let statements: [PolicyStatement]
    /// Whether any statement has a Condition: without one, evaluation needs no condition keys
    /// and the hot path can skip building them.
    public let hasConditions: Bool

    public init(version: String?, id: String?, statements: [PolicyStatement]) {
        self.version = version
        self.id = id
        self.statements = statements
        self.hasConditions = statements.contains { !$0.conditions.isEmpty }
    }
}

public struct PolicyStatement: Sendable, Hashable {
    public enum Effect: String, Sendable {
        case allow = "Allow"
        case deny = "Deny"
    }

    public let sid: String?
    public let effect: Effect
    /// nil in identity policies.
    public let principal: PrincipalMatcher?
    public let actions: Matcher
    /// nil means every resource (identity policies always say, key policies may omit it).
    public let resources: Matcher?
    public let conditions: [Condition]
}

/// Principal or NotPrincipal.
public struct PrincipalMatcher: Sendable, Hashable {
    /// "*", or the AWS principals (ARNs) and service principals.
    public let anyone: Bool
    public let aws: Set<String>
    /// Accounts named by their bare 12-digit id: each means that account's root in whatever
    /// partition the deployment runs in (the policy text does not say which).
    public let accounts: Set<String>
    public let services: Set<String>
    public let negated: Bool

    init(anyone: Bool, aws: Set<String>, accounts: Set<String> = [], services: Set<String>, negated: Bool) {
        self.anyone = anyone
        self.aws = aws
        self.accounts = accounts
        self.services = services
        self.negated = negated
    }

    func matches(principalARN: String, service: String?) -> Bool {
        let listed = self.anyone || self.aws.contains(principalARN)
            || (!self.accounts.isEmpty && RootARN.account(of: principalARN).map { self.accounts.contains($0) } == true)
            || service.map { self.services.contains($0) } == true
        return self.negated ? !listed : listed
    }
}

/// Account root ARNs (`arn:<partition>:iam::<account>:root`), read exactly: no suffix test, so
/// no other principal's ARN can pass for a root.
enum RootARN {
    /// The account whose root `arn` is, if it is a root ARN.
    static func account(of arn: String) -> String? {
        guard arn.hasSuffix(":root") else { return nil }
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", !parts[1].isEmpty, parts[2] == "iam", parts[3].isEmpty, parts[5] == "root",
              Account.isValid(String(parts[4]))
        else { return nil }
        return String(parts[4])
    }

    /// The partition of any ARN, "aws" when `arn` is not one.
    static func partition(of arn: String) -> String {
        let parts = arn.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "arn", !parts[1].isEmpty else { return "aws" }
        return String(parts[1])
    }

    static func of(account: String, partition: String) -> String {
        "arn:\(partition):iam::\(account):root"
    }
}

/// Action/NotAction or Resource/NotResource: patterns with * and ?.
public struct Matcher: Sendable, Hashable {
    public let patterns: [String]
    public let negated: Bool
    public let caseInsensitive: Bool

    func matches(_ value: String) -> Bool {
        let subject = self.caseInsensitive ? value.lowercased() : value
        let listed = self.patterns.contains { Wildcard.matches(pattern: $0, subject) }
        return self.negated ? !listed : listed
    }
}
