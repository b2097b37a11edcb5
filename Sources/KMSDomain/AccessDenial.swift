/// AWS's AccessDeniedException message, "User: <principal> is not authorized to perform:
/// <action> on resource: <ARN>" and what follows it, composed in this one place for the policy
/// engine and every refusal kmsd makes itself, so that all of them read alike.
public struct AccessDenial: Sendable, Hashable, CustomStringConvertible {
    /// Which kind of policy a refusal names.
    public enum PolicyKind: String, Sendable {
        case resourceBased = "resource-based"
        case identityBased = "identity-based"

        /// "a resource-based", "an identity-based".
        var withArticle: String {
            switch self {
            case .resourceBased: return "a \(self.rawValue)"
            case .identityBased: return "an \(self.rawValue)"
            }
        }
    }

    /// What follows the action and resource.
    public enum Reason: Sendable, Hashable {
        /// Nothing: the bare refusal.
        case unstated
        /// " with an explicit deny", in a policy of that kind when given.
        case explicitDeny(in: PolicyKind?)
        /// " because no <kind> policy allows the <action> action".
        case noPolicyAllows(PolicyKind)
        /// " because <why>".
        case because(String)
        /// ": <detail>", after the resource.
        case detail(String)
        /// " <phrase>" (for a refusal that names no resource, what it concerns).
        case qualifier(String)
    }

    /// The principal ARN refused.
    public var principal: String
    /// The action refused, with its service prefix (`kms:Decrypt`, `kms-admin:CreateAccount`).
    public var action: String
    /// The ARN of the resource (a key or alias ARN, or `*`); nil when the message names none.
    public var resource: String?
    /// What follows.
    public var reason: Reason

    /// The refusal of `action` on `resource` to `principal`, for `reason`.
    public init(principal: String, action: String, resource: String?, _ reason: Reason = .unstated) {
        self.principal = principal
        self.action = action
        self.resource = resource
        self.reason = reason
    }

    /// The message, as AWS writes it.
    public var description: String {
        var message = "User: \(self.principal) is not authorized to perform: \(self.action)"
        if let resource { message += " on resource: \(resource)" }
        switch self.reason {
        case .unstated: break
        case .explicitDeny(let kind):
            message += " with an explicit deny"
            if let kind { message += " in \(kind.withArticle) policy" }
        case .noPolicyAllows(let kind):
            message += " because no \(kind.rawValue) policy allows the \(self.action) action"
        case .because(let why): message += " because \(why)"
        case .detail(let detail): message += ": \(detail)"
        case .qualifier(let phrase): message += " \(phrase)"
        }
        return message
    }
}

extension KMSError {
    /// AccessDeniedException with `denial`'s message.
    public static func accessDenied(_ denial: AccessDenial) -> KMSError {
        KMSError(.accessDenied, denial.description)
    }
}
