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
    /// "*", or the AWS principals (ARNs; an account id is its root ARN) and service principals.
    public let anyone: Bool
    public let aws: Set<String>
    public let services: Set<String>
    public let negated: Bool

    func matches(principalARN: String, service: String?) -> Bool {
        let listed = self.anyone || self.aws.contains(principalARN) || service.map { self.services.contains($0) } == true
        return self.negated ? !listed : listed
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
