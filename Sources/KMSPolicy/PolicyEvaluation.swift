/// What one policy says about one request.
public enum PolicyDecision: Sendable, Hashable {
    /// A matching Deny statement (its Sid, if any). Wins over every allow anywhere.
    case explicitDeny(sid: String?)
    case allow
    /// No statement matched.
    case notApplicable
}

extension PolicyDocument {
    /// Evaluates every statement: any matching Deny wins; else any matching Allow allows.
    public func evaluate(_ context: RequestContext) -> PolicyDecision {
        var allowed = false
        for statement in self.statements where statement.applies(to: context) {
            switch statement.effect {
            case .deny: return .explicitDeny(sid: statement.sid)
            case .allow: allowed = true
            }
        }
        return allowed ? .allow : .notApplicable
    }
}

extension PolicyStatement {
    func applies(to context: RequestContext) -> Bool {
        if let principal = self.principal, !principal.matches(principalARN: context.principalARN, service: context.service) {
            return false
        }
        guard self.actions.matches(context.action) else { return false }
        if let resources = self.resources, !resources.matches(context.resource) { return false }
        return self.conditions.allSatisfy { $0.holds(in: context) }
    }
}
