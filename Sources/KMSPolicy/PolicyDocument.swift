/// A parsed, validated AWS JSON policy, ready to evaluate without further parsing: key
/// policies are compiled once per key version and evaluated in microseconds on the hot path.
public struct PolicyDocument: Sendable, Hashable {
    /// Which rules a policy is parsed under; the same JSON may be valid as one kind and not the other.
    public enum Kind: Sendable {
        /// A key policy: every statement names a Principal or NotPrincipal.
        case resource
        /// An identity policy attached to a principal: no statement names a principal.
        case identity
    }

    /// "2012-10-17" or "2008-10-17"; nil when the document has no Version.
    public let version: String?
    /// The document's optional Id, as written.
    public let id: String?
    /// The statements in document order; order does not change a decision.
    public let statements: [PolicyStatement]
    /// Whether any statement has a Condition: without one, evaluation needs no condition keys
    /// and the hot path can skip building them.
    public let hasConditions: Bool

    /// A policy from parsed statements (`hasConditions` follows from them).
    public init(version: String?, id: String?, statements: [PolicyStatement]) {
        self.version = version
        self.id = id
        self.statements = statements
        self.hasConditions = statements.contains { !$0.conditions.isEmpty }
    }
}

/// One Statement of a policy, parsed.
public struct PolicyStatement: Sendable, Hashable {
    /// Allow or Deny; a matching Deny wins over every Allow.
    public enum Effect: String, Sendable {
        case allow = "Allow"
        case deny = "Deny"
    }

    /// The statement's optional Sid, as written; messages use it to name the statement.
    public let sid: String?
    /// Whether a match allows or denies.
    public let effect: Effect
    /// nil in identity policies.
    public let principal: PrincipalMatcher?
    /// Action or NotAction, lowercased: actions are compared ignoring case.
    public let actions: Matcher
    /// nil means every resource (identity policies always say, key policies may omit it).
    public let resources: Matcher?
    /// Every condition must hold for the statement to apply; empty when it has none.
    public let conditions: [Condition]
}

/// Principal or NotPrincipal.
public struct PrincipalMatcher: Sendable, Hashable {
    /// "*", or the AWS principals (ARNs) and service principals.
    public let anyone: Bool
    /// Principal ARNs, matched exactly (a wildcard other than "*" alone is refused when parsing).
    public let aws: Set<String>
    /// Accounts named by their bare 12-digit id: each means that account's root in whatever
    /// partition the deployment runs in (the policy text does not say which).
    public let accounts: Set<String>
    /// Service principals ("logs.us-east-1.amazonaws.com"), matched against a request's service.
    public let services: Set<String>
    /// Written as NotPrincipal: matches whoever is not listed. Only allowed in Deny statements.
    public let negated: Bool

    init(anyone: Bool, aws: Set<String>, accounts: Set<String> = [], services: Set<String>, negated: Bool) {
        self.anyone = anyone
        self.aws = aws
        self.accounts = accounts
        self.services = services
        self.negated = negated
    }

    func matches(principalARN: String, service: String?) -> Bool {
        let listed =
            self.anyone || self.aws.contains(principalARN)
            || (!self.accounts.isEmpty
                && RootARN.account(of: principalARN).map { self.accounts.contains(String($0)) } == true)
            || service.map { self.services.contains($0) } == true
        return self.negated ? !listed : listed
    }

    /// `matches` for an account's root, whose ARN `rootARN` the caller has already built.
    func matches(root rootARN: String, account: String) -> Bool {
        let listed = self.anyone || self.accounts.contains(account) || self.aws.contains(rootARN)
        return self.negated ? !listed : listed
    }
}

/// Account root ARNs (`arn:<partition>:iam::<account>:root`), read exactly: no suffix test, so
/// no other principal's ARN can pass for a root. On every request, so without allocating.
enum RootARN {
    /// The account whose root `arn` is, if it is a root ARN.
    static func account(of arn: String) -> Substring? {
        guard arn.utf8.count > 23, arn.hasPrefix("arn:"), arn.hasSuffix(":root"),
            let partitionEnd = arn.utf8.dropFirst(4).firstIndex(of: UInt8(ascii: ":"))
        else { return nil }
        let rest = arn.utf8[arn.utf8.index(after: partitionEnd)...]
        guard partitionEnd > arn.utf8.index(arn.utf8.startIndex, offsetBy: 4), rest.starts(with: "iam::".utf8) else {
            return nil
        }
        let account = rest.dropFirst(5).dropLast(5)
        guard account.count == 12, account.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        return arn[account.startIndex..<account.endIndex]
    }

    /// The partition of any ARN, "aws" when `arn` is not one.
    static func partition(of arn: String) -> Substring {
        guard arn.hasPrefix("arn:"), let end = arn.utf8.dropFirst(4).firstIndex(of: UInt8(ascii: ":")) else {
            return "aws"
        }
        let partition = arn[arn.utf8.index(arn.utf8.startIndex, offsetBy: 4)..<end]
        return partition.isEmpty ? "aws" : partition
    }

    static func of(account: String, partition: Substring) -> String {
        "arn:\(partition):iam::\(account):root"
    }
}

/// Action/NotAction or Resource/NotResource: patterns with * and ?.
public struct Matcher: Sendable, Hashable {
    /// The patterns as written, lowercased when `caseInsensitive`.
    public let patterns: [String]
    /// Written as NotAction or NotResource: matches what no pattern matches.
    public let negated: Bool
    /// True for actions, false for resources (ARNs compare with case).
    public let caseInsensitive: Bool
    /// `patterns` sorted by shape once, so the common ones ("*", "kms:Decrypt", "kms:Gen*")
    /// cost a comparison on every request rather than a general match.
    let compiled: [WildcardPattern]

    init(patterns: [String], negated: Bool, caseInsensitive: Bool) {
        self.patterns = patterns
        self.negated = negated
        self.caseInsensitive = caseInsensitive
        self.compiled = patterns.map(WildcardPattern.init)
    }

    func matches(_ value: String) -> Bool {
        self.matches(prepared: self.caseInsensitive ? value.lowercased() : value)
    }

    /// `subject` already lowercased when this matcher ignores case.
    func matches(prepared subject: String) -> Bool {
        let listed = self.compiled.contains { $0.matches(subject) }
        return self.negated ? !listed : listed
    }
}
