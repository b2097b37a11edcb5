import KMSDomain
import Testing

@testable import KMSPolicy

/// Properties of the evaluator over thousands of generated policies, requests and grants
/// (PolicyGenerators.swift). Deterministic: a failure prints the seed to replay it with
/// KMS_PROPERTY_SEED.
@Suite struct PolicyPropertyTests {
    /// Runs `body` on `count` cases, each with its own generator; stops after a few failures.
    static func forAll(_ count: Int, _ body: (inout SplitMix64) -> String?) {
        var failures = 0
        for index in 0..<count {
            var random = SplitMix64(seed: PropertySeed.caseSeed(index))
            if let problem = body(&random) {
                Issue.record("\(problem) [\(PropertySeed.describe(index))]")
                failures += 1
                if failures == 5 { return }
            }
        }
    }

    // MARK: Deny always wins

    /// A Deny statement made to match the request, put anywhere in the key policy or in any
    /// identity policy, makes `decide` deny, whatever else the policies and grants say.
    @Test func anExplicitDenyAlwaysWins() {
        var inserted = (keyPolicy: 0, identity: 0, allowedBefore: 0)
        Self.forAll(3000) { r in
            var access = AccessCase.random(&r)
            let context = access.request.context
            let before = access.decide(context)
            let intoKeyPolicy = r.chance(50)
            let deny = Self.matchingDeny(access, context: context, kind: intoKeyPolicy ? .resource : .identity, &r)
            if intoKeyPolicy {
                access.keyPolicy = Self.inserting(deny, into: access.keyPolicy, &r)
                inserted.keyPolicy += 1
            } else if access.identityPolicies.isEmpty || r.chance(30) {
                let policy = PolicyDocument(version: nil, id: nil, statements: [deny])
                access.identityPolicies.insert(policy, at: r.below(access.identityPolicies.count + 1))
                inserted.identity += 1
            } else {
                let index = r.below(access.identityPolicies.count)
                access.identityPolicies[index] = Self.inserting(deny, into: access.identityPolicies[index], &r)
                inserted.identity += 1
            }
            if before.isAllowed { inserted.allowedBefore += 1 }
            let after = access.decide(context)
            guard case .denied(let message) = after, message.contains("with an explicit deny") else {
                return "a matching Deny \(deny) did not deny: \(after) (before: \(before))"
            }
            return nil
        }
        // The generator must reach the interesting cases: requests that were allowed before.
        #expect(inserted.keyPolicy > 1000 && inserted.identity > 1000 && inserted.allowedBefore > 300, "\(inserted)")
    }

    /// A Deny statement that speaks to this request: its principal names the caller, "*", the
    /// caller's account, or excludes someone else; its action and resource patterns match, or
    /// their Not* forms exclude something else; its conditions are drawn at random and kept
    /// only when they hold.
    static func matchingDeny(
        _ access: AccessCase, context: RequestContext, kind: PolicyDocument.Kind, _ r: inout SplitMix64
    ) -> PolicyStatement {
        let world = access.world
        let request = access.request
        var principal: PrincipalMatcher?
        if kind == .resource {
            let others = world.principals.map(\.arn).filter {
                $0 != request.principal && $0 != world.root(request.account)
            }
            switch r.below(5) {
            case 0: principal = PrincipalMatcher(anyone: true, aws: [], services: [], negated: false)
            case 1:
                principal = PrincipalMatcher(
                    anyone: false, aws: [], accounts: [request.account], services: [], negated: false)
            case 2:
                principal = PrincipalMatcher(
                    anyone: false, aws: [world.root(request.account)], services: [], negated: false)
            case 3:
                principal = PrincipalMatcher(
                    anyone: false, aws: Set(r.some(others, most: 2)), services: [], negated: true)
            default:
                principal = PrincipalMatcher(
                    anyone: false, aws: Set([request.principal] + r.some(others, least: 0, most: 1)), services: [],
                    negated: false)
            }
        }
        let matching = World.actionPatterns.filter {
            Matcher.of([$0], negated: false, caseInsensitive: true).matches(request.action)
        }
        let notMatching = World.actionPatterns.filter {
            !Matcher.of([$0], negated: false, caseInsensitive: true).matches(request.action)
        }
        let actions =
            r.chance(20) && !notMatching.isEmpty
            ? Matcher.of(r.some(notMatching, most: 2), negated: true, caseInsensitive: true)
            : Matcher.of(r.some(matching, most: 2), negated: false, caseInsensitive: true)
        let resourceMatching = world.resourcePatterns.filter { Wildcard.matches(pattern: $0, request.resource) }
        let resourceOthers = world.resourcePatterns.filter { !Wildcard.matches(pattern: $0, request.resource) }
        var resources: Matcher?
        switch r.below(4) {
        case 0 where kind == .resource: resources = nil
        case 1: resources = Matcher.of(r.some(resourceOthers, most: 2), negated: true, caseInsensitive: false)
        default: resources = Matcher.of(r.some(resourceMatching, most: 2), negated: false, caseInsensitive: false)
        }
        let conditions = (0..<r.below(4)).map { _ in world.randomCondition(&r) }.filter { $0.holds(in: context) }
        return PolicyStatement(
            sid: r.chance(50) ? "Inserted" : nil, effect: .deny, principal: principal, actions: actions,
            resources: resources,
            conditions: conditions
        )
    }

    static func inserting(_ statement: PolicyStatement, into policy: PolicyDocument, _ r: inout SplitMix64)
        -> PolicyDocument
    {
        var statements = policy.statements
        statements.insert(statement, at: r.below(statements.count + 1))
        return PolicyDocument(version: policy.version, id: policy.id, statements: statements)
    }

    // MARK: Order independence

    /// Shuffling statements, patterns, conditions, policy values, identity policies, grants and
    /// the values of multi-valued request keys changes neither `evaluate` nor `decide`.
    @Test func noResultDependsOnOrder() {
        var outcomes: [String: Int] = [:]
        Self.forAll(2000) { r in
            let access = AccessCase.random(&r)
            let context = access.request.context
            let decision = access.decide(context)
            let keyPolicy = access.keyPolicy.evaluate(context)
            let identity = access.identityPolicies.map { $0.evaluate(context) }
            outcomes[decision.isAllowed ? "allowed" : "denied", default: 0] += 1
            if case .explicitDeny = keyPolicy { outcomes["keyPolicyDeny", default: 0] += 1 }
            for variant in 0..<3 {
                let (other, otherContext, order) = access.shuffled(&r)
                let otherDecision = other.decide(otherContext)
                if otherDecision != decision {
                    return "variant \(variant): decide \(otherDecision) ≠ \(decision)"
                }
                let otherKeyPolicy = other.keyPolicy.evaluate(otherContext)
                if otherKeyPolicy != keyPolicy {
                    return "variant \(variant): key policy \(otherKeyPolicy) ≠ \(keyPolicy)"
                }
                for (position, original) in order.enumerated()
                where other.identityPolicies[position].evaluate(otherContext) != identity[original] {
                    return
                        "variant \(variant): identity policy \(original) "
                        + "\(other.identityPolicies[position].evaluate(otherContext)) ≠ \(identity[original])"
                }
            }
            return nil
        }
        #expect(
            outcomes["allowed", default: 0] > 200 && outcomes["denied", default: 0] > 200
                && outcomes["keyPolicyDeny", default: 0] > 100, "\(outcomes)")
    }

    /// The same at the level of one condition, where a difference cannot hide behind another
    /// statement: every operator, set form and IfExists, on request lists of zero to four values
    /// drawn from every family, in every order of request and policy values tried.
    @Test func noConditionDependsOnTheOrderOfValues() {
        let world = World(partition: "aws")
        let requestValues = Array(
            Set(
                World.stringValues + world.arnValues + World.numericValues + World.dateValues + World.ipValues
                    + World.tagKeys
                    + ["10.1.2.3", "::ffff:10.1.2.3", "1700000000", "webby", "arn:aws:iam::111122223333:user/alice"]
            )
        ).sorted()
        var differing = 0
        Self.forAll(6000) { r in
            let generated = world.randomCondition(&r)
            let condition = Condition(
                test: generated.test, setForm: generated.setForm, ifExists: generated.ifExists, key: "k",
                values: generated.values)
            let request = r.some(requestValues, least: 0, most: 4)
            func holds(_ condition: Condition, _ request: [String]) -> Bool {
                var context = RequestContext(
                    principalARN: "arn:aws:iam::111122223333:user/alice", action: "kms:Decrypt", resource: "*")
                context.set("k", request)
                return condition.holds(in: context)
            }
            let expected = holds(condition, request)
            if request.count > 1, holds(condition, [request[0]]) != expected { differing += 1 }
            for _ in 0..<3 {
                let values = r.shuffled(condition.values)
                let reordered = Condition(
                    test: condition.test, setForm: condition.setForm, ifExists: condition.ifExists, key: "k",
                    values: values)
                let order = r.shuffled(request)
                if holds(reordered, order) != expected {
                    return
                        "\(condition.test) \(condition.setForm) ifExists \(condition.ifExists) \(condition.values) "
                        + "vs \(request): \(expected), but with \(values) vs \(order): \(!expected)"
                }
            }
            return nil
        }
        // Cases where one value alone decides otherwise than the list: the ones that matter.
        #expect(differing > 300, "\(differing)")
    }

    // MARK: Grants

    /// For random parent and child grants that `permitsChild` accepts, every operation and
    /// encryption context the child allows, the parent allows too.
    @Test func aGrantNeverAllowsMoreThanItsParent() {
        var accepted = 0
        var childAllowed = 0
        Self.forAll(4000) { r in
            let world = World(partition: "aws")
            let grantee = world.principals[1].arn
            var parent = world.randomGrant(&r, id: "parent")
            if r.chance(80) { parent = Self.withOperations(parent, parent.operations.union(["CreateGrant"])) }
            let child =
                r.chance(60) ? Self.derivedChild(of: parent, world: world, &r) : world.randomGrant(&r, id: "child")
            guard
                parent.permitsChild(
                    operations: child.operations, encryptionContextEquals: child.encryptionContextEquals,
                    encryptionContextSubset: child.encryptionContextSubset
                )
            else { return nil }
            accepted += 1
            // Both for the same grantee: narrowing is about what the grant allows, not to whom.
            let parentRule = KeyAccess.GrantRule(
                id: "parent", granteePrincipal: grantee, operations: parent.operations,
                encryptionContextEquals: parent.encryptionContextEquals,
                encryptionContextSubset: parent.encryptionContextSubset
            )
            let childRule = KeyAccess.GrantRule(
                id: "child", granteePrincipal: grantee, operations: child.operations,
                encryptionContextEquals: child.encryptionContextEquals,
                encryptionContextSubset: child.encryptionContextSubset
            )
            for context in Self.probeContexts(parent: parent, child: child, world: world, &r) {
                for operation in World.grantOperations
                where childRule.allows(principal: grantee, operation: operation, encryptionContext: context) {
                    childAllowed += 1
                    if !parentRule.allows(principal: grantee, operation: operation, encryptionContext: context) {
                        return
                            "child \(child) allows \(operation) with \(context.map { "\($0)" } ?? "nil") that parent "
                            + "\(parent) does not"
                    }
                }
            }
            return nil
        }
        #expect(accepted > 800 && childAllowed > 5000, "accepted \(accepted), child allowed \(childAllowed)")
    }

    static func withOperations(_ grant: KeyAccess.GrantRule, _ operations: Set<String>) -> KeyAccess.GrantRule {
        KeyAccess.GrantRule(
            id: grant.id, granteePrincipal: grant.granteePrincipal, operations: operations,
            encryptionContextEquals: grant.encryptionContextEquals,
            encryptionContextSubset: grant.encryptionContextSubset
        )
    }

    /// A child close to its parent, so that many are accepted and the boundary is probed:
    /// some of its operations, its constraints copied, re-cased, extended, dropped or swapped.
    static func derivedChild(of parent: KeyAccess.GrantRule, world: World, _ r: inout SplitMix64) -> KeyAccess.GrantRule
    {
        let operations = Set(r.some(Array(parent.operations).sorted(), most: parent.operations.count))
        func mutate(_ map: [String: String]?) -> [String: String]? {
            guard var map else { return r.chance(20) ? world.randomEncryptionContext(&r) : nil }
            switch r.below(6) {
            case 0: map[r.pick(World.contextKeys)] = r.pick(World.contextValues)
            case 1: map = Dictionary(map.map { ($0.key.uppercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
            case 2: if let key = map.keys.sorted().first { map.removeValue(forKey: key) }
            case 3: return nil
            default: break
            }
            return map
        }
        var equals = mutate(parent.encryptionContextEquals)
        var subset = mutate(parent.encryptionContextSubset)
        if r.chance(15) { equals = subset.map { $0.merging(world.randomEncryptionContext(&r)) { a, _ in a } } }
        if r.chance(10) { swap(&equals, &subset) }
        return KeyAccess.GrantRule(
            id: "child", granteePrincipal: parent.granteePrincipal, operations: operations,
            encryptionContextEquals: equals, encryptionContextSubset: subset
        )
    }

    /// Contexts at the edges of both grants' constraints: each constraint itself, with a pair
    /// added or re-cased, the union of them, random ones, empty and none.
    static func probeContexts(
        parent: KeyAccess.GrantRule, child: KeyAccess.GrantRule, world: World, _ r: inout SplitMix64
    ) -> [[String: String]?] {
        let maps = [
            parent.encryptionContextEquals, parent.encryptionContextSubset, child.encryptionContextEquals,
            child.encryptionContextSubset,
        ]
        .compactMap { $0 }
        var contexts: [[String: String]?] = [nil, [:]]
        for map in maps {
            contexts.append(map)
            var extended = map
            extended[r.pick(World.contextKeys)] = r.pick(World.contextValues)
            contexts.append(extended)
            contexts.append(Dictionary(map.map { ($0.key.uppercased(), $0.value) }, uniquingKeysWith: { a, _ in a }))
        }
        contexts.append(maps.reduce(into: [:]) { $0.merge($1) { a, _ in a } })
        for _ in 0..<4 { contexts.append(world.randomEncryptionContext(&r)) }
        return contexts
    }

    // MARK: Negated operators

    static let complements: [(Condition.Test, Condition.Test)] = [
        (.stringEquals, .stringNotEquals), (.stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase),
        (.stringLike, .stringNotLike),
        (.arnEquals, .arnNotEquals), (.arnLike, .arnNotLike), (.numericEquals, .numericNotEquals),
        (.dateEquals, .dateNotEquals),
        (.ipAddress, .notIpAddress),
    ]

    /// On a present single-valued key a Not* operator is the complement of its positive, and
    /// with the set prefixes ForAllValues:Not* = ¬ForAnyValue and ForAnyValue:Not* = ¬ForAllValues
    /// on any present key. Request values come from every family, so mismatched types (a word
    /// against NumericEquals, a name against IpAddress) are covered too.
    @Test func aNegatedOperatorIsTheComplementOfItsPositive() {
        let world = World(partition: "aws")
        let requestValues = Array(
            Set(
                World.stringValues + world.arnValues + World.numericValues + World.dateValues + World.ipValues
                    + [
                        "10.1.2.3", "::ffff:10.1.2.3", "1700000000", "Decrypt", "webby",
                        "arn:aws:iam::111122223333:user/alice",
                    ]
            )
        ).sorted()
        Self.forAll(6000) { r in
            let (positive, negative) = r.pick(Self.complements)
            let values = r.some(world.policyValues(for: positive), most: 3)
            let ifExists = r.chance(30)
            let single = [r.pick(requestValues)]
            let several = r.some(requestValues, most: 4)
            func holds(_ test: Condition.Test, _ form: Condition.SetForm, _ request: [String]) -> Bool {
                var context = RequestContext(
                    principalARN: "arn:aws:iam::111122223333:user/alice", action: "kms:Decrypt", resource: "*")
                context.set("k", request)
                return Condition(test: test, setForm: form, ifExists: ifExists, key: "k", values: values).holds(
                    in: context)
            }
            if holds(negative, .single, single) == holds(positive, .single, single) {
                return "\(negative) \(values) vs \(single) is not the complement of \(positive)"
            }
            if holds(negative, .single, several) == holds(positive, .single, several) {
                return "\(negative) \(values) vs \(several) (no set prefix) is not the complement of \(positive)"
            }
            if holds(negative, .forAllValues, several) == holds(positive, .forAnyValue, several) {
                return
                    "ForAllValues:\(negative) \(values) vs \(several) is not the complement of ForAnyValue:\(positive)"
            }
            if holds(negative, .forAnyValue, several) == holds(positive, .forAllValues, several) {
                return
                    "ForAnyValue:\(negative) \(values) vs \(several) is not the complement of ForAllValues:\(positive)"
            }
            return nil
        }
    }
}
