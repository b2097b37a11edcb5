/// What a policy says about one request.
public enum PolicyDecision: Sendable, Hashable {
    /// A matching Deny statement (its Sid, if any). Wins over every allow anywhere.
    case explicitDeny(sid: String?)
    case allow
    /// No statement matched.
    case notApplicable
}

extension PolicyDocument {
    /// Evaluates every statement: any matching Deny wins; else any matching Allow allows.
    /// When several Deny statements match, the one reported is the same whatever their order:
    /// the least Sid, a statement without one only when none has one.
    public func evaluate(_ context: RequestContext) -> PolicyDecision {
        self.evaluate(context, alsoAs: nil).direct
    }

    /// One pass deciding for the caller and, when `alsoAs` names another principal (the
    /// caller's account root), for that principal too: a key policy is read both ways on every
    /// request, and the action, resource and conditions do not depend on which.
    func evaluate(_ context: RequestContext, alsoAs other: (root: String, account: String)?) -> (
        direct: PolicyDecision, other: PolicyDecision
    ) {
        var direct = Outcome()
        var delegated = Outcome()
        for statement in self.statements {
            guard
                statement.actions.matches(
                    prepared: statement.actions.caseInsensitive ? context.foldedAction : context.action)
            else { continue }
            if let resources = statement.resources, !resources.matches(context.resource) { continue }
            let forCaller =
                statement.principal?.matches(principalARN: context.principalARN, service: context.service) ?? true
            let forOther =
                other.map { statement.principal?.matches(root: $0.root, account: $0.account) ?? true } ?? false
            // Conditions last: they cost the most, and a statement that names neither principal
            // does not need them.
            guard forCaller || forOther, statement.conditions.allSatisfy({ $0.holds(in: context) }) else { continue }
            if forCaller { direct.add(statement) }
            if forOther { delegated.add(statement) }
        }
        return (direct.decision, delegated.decision)
    }
}

private struct Outcome {
    var allowed = false
    var denied = false
    var denySid: String?

    mutating func add(_ statement: PolicyStatement) {
        switch statement.effect {
        case .allow:
            self.allowed = true
        case .deny:
            if !self.denied {
                self.denySid = statement.sid
            } else if let sid = statement.sid, self.denySid.map({ sid < $0 }) ?? true {
                self.denySid = sid
            }
            self.denied = true
        }
    }

    var decision: PolicyDecision {
        self.denied ? .explicitDeny(sid: self.denySid) : self.allowed ? .allow : .notApplicable
    }
}

extension PolicyStatement {
    /// Whether this statement speaks to the caller of `context` (whatever its effect).
    func applies(to context: RequestContext) -> Bool {
        if let principal = self.principal,
            !principal.matches(principalARN: context.principalARN, service: context.service)
        {
            return false
        }
        guard self.actions.matches(prepared: self.actions.caseInsensitive ? context.foldedAction : context.action)
        else { return false }
        if let resources = self.resources, !resources.matches(context.resource) { return false }
        return self.conditions.allSatisfy { $0.holds(in: context) }
    }
}
