import Foundation
import KMSDomain

@testable import KMSPolicy

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so that every property case
/// can be replayed from the seed its failure prints. Its own `below` and `shuffled` keep the
/// sequence independent of the standard library's algorithms.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(self.next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { self.below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[self.below(items.count)] }

    mutating func shuffled<T>(_ items: [T]) -> [T] {
        var result = items
        for index in stride(from: result.count - 1, to: 0, by: -1) {
            result.swapAt(index, self.below(index + 1))
        }
        return result
    }

    /// Between `least` and `most` distinct items.
    mutating func some<T>(_ items: [T], least: Int = 1, most: Int) -> [T] {
        Array(self.shuffled(items).prefix(least + self.below(max(1, min(most, items.count) - least + 1))))
    }
}

/// The base seed of the property tests: KMS_PROPERTY_SEED when set (to replay a failure),
/// else a fixed one. Case `i` runs on `caseSeed(i)`.
enum PropertySeed {
    static let base: UInt64 =
        ProcessInfo.processInfo.environment["KMS_PROPERTY_SEED"].flatMap { UInt64($0) } ?? 0x15_5EED

    static func caseSeed(_ index: Int) -> UInt64 {
        var mixer = SplitMix64(seed: base &+ UInt64(index))
        return mixer.next()
    }

    static func describe(_ index: Int) -> String {
        "KMS_PROPERTY_SEED=\(base), case \(index) (seed \(caseSeed(index)))"
    }
}

/// A request as the property tests build it: the condition keys are kept as lists so that a
/// variant can present the same values in another order.
struct RequestModel {
    var principal: String
    var account: String
    var action: String
    var resource: String
    var keys: [(name: String, values: [String])]
    var encryptionContext: [String: String]?

    /// The context, with the keys set and the values of each listed in the model's order, or
    /// in an order drawn from `random`.
    func context(shuffling random: inout SplitMix64?) -> RequestContext {
        var context = RequestContext(principalARN: self.principal, action: self.action, resource: self.resource)
        if let encryptionContext { context.setEncryptionContext(encryptionContext) }
        guard var r = random else {
            for (name, values) in self.keys { context.set(name, values) }
            return context
        }
        for (name, values) in r.shuffled(self.keys) {
            let order = r.shuffled(values)
            context.set(name, order)
        }
        random = r
        return context
    }

    var context: RequestContext {
        var none: SplitMix64?
        return self.context(shuffling: &none)
    }
}

/// The small world random policies, requests and grants are drawn from: two accounts, a few
/// principals of each, one key, and pools of patterns and values that collide often enough
/// for every branch of the evaluator to be taken.
struct World {
    static let accountA = "111122223333"
    static let accountB = "444455556666"
    static let actions = [
        "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:DescribeKey", "kms:CreateGrant",
        "kms:PutKeyPolicy", "kms:GenerateDataKeyWithoutPlaintext",
    ]
    static let actionPatterns = [
        "*", "kms:*", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:Gen*", "kms:?ncrypt", "KMS:DECRYPT",
        "kms:Re*", "kms:*Key*", "kms:CreateGrant", "kms:PutKeyPolicy", "kms:Describe*", "kms:*crypt",
    ]
    static let grantOperations = [
        "Decrypt", "Encrypt", "GenerateDataKey", "ReEncryptFrom", "DescribeKey", "CreateGrant", "RetireGrant",
    ]
    static let contextKeys = ["app", "App", "APP", "env", "tenant"]
    static let contextValues = ["web", "Web", "db", "secret", ""]
    static let tagKeys = ["Owner", "owner", "A", "env", "Env", "B"]

    let partition: String

    var keyARN: String { "arn:\(self.partition):kms:us-east-1:\(Self.accountA):key/k1" }
    func root(_ account: String) -> String { "arn:\(self.partition):iam::\(account):root" }
    var principals: [(arn: String, account: String)] {
        [
            (self.root(Self.accountA), Self.accountA),
            ("arn:\(self.partition):iam::\(Self.accountA):user/alice", Self.accountA),
            ("arn:\(self.partition):iam::\(Self.accountA):user/bob", Self.accountA),
            ("arn:\(self.partition):iam::\(Self.accountA):role/app", Self.accountA),
            (self.root(Self.accountB), Self.accountB),
            ("arn:\(self.partition):iam::\(Self.accountB):role/app", Self.accountB),
        ]
    }

    var resourcePatterns: [String] {
        [
            "*", self.keyARN, "arn:\(self.partition):kms:*:\(Self.accountA):key/*",
            "arn:\(self.partition):kms:us-east-1:*:key/k?",
            "arn:\(self.partition):kms:*:\(Self.accountB):key/*",
            "arn:\(self.partition):kms:us-east-1:\(Self.accountA):key/other",
            "arn:*:kms:*:*:*",
        ]
    }

    // MARK: Condition values, by operator family

    static let stringValues = [
        "web", "Web", "db", "w*", "*", "d?", "Owner", "A", "env", "app", "tenant", accountA, accountB, "Decrypt",
        "Encrypt*", "secret", "",
    ]
    var arnValues: [String] {
        self.principals.map(\.arn) + [
            "arn:\(self.partition):iam::*:role/*", "arn:\(self.partition):iam::\(Self.accountA):*", "arn:*:iam::*:root",
            "*",
            "arn:\(self.partition):iam::\(Self.accountA):user/?lice",
        ]
    }
    static let numericValues = ["30", "90", "365", "0", "-1", "1e2", "30.0"]
    static let dateValues = [
        "2023-11-14T22:13:20Z", "1700000000", "2030-01-01", "1600000000", "2023-11-14T22:13:20.500Z",
    ]
    static let boolValues = ["true", "false", "TRUE"]
    static let ipValues = [
        "10.0.0.0/8", "192.0.2.0/24", "::ffff:10.0.0.0/104", "2001:db8::/32", "0.0.0.0/0", "203.0.113.9",
    ]

    func policyValues(for test: Condition.Test) -> [String] {
        switch test {
        case .stringEquals, .stringNotEquals, .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase, .stringLike,
            .stringNotLike:
            Self.stringValues
        case .arnEquals, .arnNotEquals, .arnLike, .arnNotLike: self.arnValues
        case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan,
            .numericGreaterThanEquals:
            Self.numericValues
        case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals:
            Self.dateValues
        case .bool: Self.boolValues
        case .ipAddress, .notIpAddress: Self.ipValues
        case .null: ["true", "false"]
        }
    }

    /// The condition keys a request may carry, with the values each may take; multi-valued
    /// ones take lists.
    func requestKeys(principal: String, account: String, _ r: inout SplitMix64) -> [(name: String, values: [String])] {
        var keys: [(name: String, values: [String])] = []
        if r.chance(90) { keys.append(("aws:PrincipalArn", [principal])) }
        if r.chance(90) { keys.append(("kms:CallerAccount", [account])) }
        if r.chance(50) { keys.append(("aws:SecureTransport", [r.pick(["true", "false"])])) }
        if r.chance(50) {
            keys.append(
                (
                    "aws:SourceIp",
                    [
                        r.pick([
                            "10.1.2.3", "192.0.2.7", "::ffff:10.9.9.9", "2001:db8::1", "203.0.113.9",
                            "::ffff:203.0.113.9",
                        ])
                    ]
                ))
        }
        if r.chance(40) { keys.append(("aws:CurrentTime", [r.pick(["1700000000", "1650000000.5", "1900000000"])])) }
        if r.chance(40) { keys.append(("kms:RotationPeriodInDays", [r.pick(["30", "90", "400", "x"])])) }
        if r.chance(40) { keys.append(("aws:ResourceTag/env", [r.pick(["prod", "dev"])])) }
        if r.chance(50) { keys.append(("aws:TagKeys", r.some(Self.tagKeys, least: 0, most: 4))) }
        if r.chance(40) { keys.append(("kms:GrantOperations", r.some(Self.grantOperations, least: 0, most: 4))) }
        return keys
    }

    /// Keys conditions are written on: those above, the encryption context's, and one never
    /// set; the multi-valued ones (and kms:EncryptionContext:app, which is when the context
    /// has "app" and "App") more often, as that is where order could leak in.
    static let conditionKeys = [
        "aws:PrincipalArn", "kms:CallerAccount", "aws:SecureTransport", "aws:SourceIp", "aws:CurrentTime",
        "kms:RotationPeriodInDays",
        "aws:ResourceTag/env", "kms:EncryptionContext:env", "kms:ViaService",
        "aws:TagKeys", "aws:TagKeys", "aws:TagKeys", "kms:GrantOperations", "kms:GrantOperations",
        "kms:EncryptionContext:app",
        "kms:EncryptionContext:app", "kms:EncryptionContextKeys",
    ]

    func randomEncryptionContext(_ r: inout SplitMix64) -> [String: String] {
        var context: [String: String] = [:]
        for key in r.some(Self.contextKeys, least: 0, most: 3) { context[key] = r.pick(Self.contextValues) }
        return context
    }

    // MARK: Policies

    func randomCondition(_ r: inout SplitMix64) -> Condition {
        let test = r.pick(Condition.Test.allCases)
        let form: Condition.SetForm = test == .null ? .single : r.pick([.single, .single, .forAnyValue, .forAllValues])
        let ifExists = test != .null && r.chance(30)
        let values = r.some(self.policyValues(for: test), most: 3)
        return Condition(test: test, setForm: form, ifExists: ifExists, key: r.pick(Self.conditionKeys), values: values)
    }

    func randomPrincipal(_ r: inout SplitMix64) -> PrincipalMatcher {
        if r.chance(15) { return PrincipalMatcher(anyone: true, aws: [], services: [], negated: r.chance(20)) }
        var aws: Set<String> = []
        var accounts: Set<String> = []
        for _ in 0..<(1 + r.below(3)) {
            if r.chance(30) {
                accounts.insert(r.pick([Self.accountA, Self.accountB]))
            } else {
                aws.insert(r.pick(self.principals).arn)
            }
        }
        return PrincipalMatcher(anyone: false, aws: aws, accounts: accounts, services: [], negated: r.chance(15))
    }

    func randomStatement(_ r: inout SplitMix64, kind: PolicyDocument.Kind) -> PolicyStatement {
        let actions = Matcher.of(r.some(Self.actionPatterns, most: 3), negated: r.chance(15), caseInsensitive: true)
        let resources: Matcher? =
            kind == .resource && r.chance(50)
            ? nil : Matcher.of(r.some(self.resourcePatterns, most: 2), negated: r.chance(10), caseInsensitive: false)
        let conditions = r.chance(50) ? [] : (0..<(1 + r.below(3))).map { _ in self.randomCondition(&r) }
        return PolicyStatement(
            sid: r.chance(50) ? r.pick(["S1", "S2", "Alpha", "Beta", "Zeta"]) : nil,
            effect: r.chance(65) ? .allow : .deny,
            principal: kind == .resource ? self.randomPrincipal(&r) : nil, actions: actions, resources: resources,
            conditions: conditions
        )
    }

    func randomPolicy(_ r: inout SplitMix64, kind: PolicyDocument.Kind, most: Int) -> PolicyDocument {
        PolicyDocument(
            version: "2012-10-17", id: nil,
            statements: (0..<(1 + r.below(most))).map { _ in self.randomStatement(&r, kind: kind) })
    }

    // MARK: Grants

    func randomConstraints(_ r: inout SplitMix64) -> (equals: [String: String]?, subset: [String: String]?) {
        switch r.below(6) {
        case 0, 1: (nil, nil)
        case 2: (self.randomEncryptionContext(&r), nil)
        case 3, 4: (nil, self.randomEncryptionContext(&r))
        default: (self.randomEncryptionContext(&r), self.randomEncryptionContext(&r))
        }
    }

    func randomGrant(_ r: inout SplitMix64, id: String) -> KeyAccess.GrantRule {
        let (equals, subset) = self.randomConstraints(&r)
        return KeyAccess.GrantRule(
            id: id, granteePrincipal: r.pick(self.principals).arn,
            operations: Set(r.some(Self.grantOperations, most: 4)),
            encryptionContextEquals: equals, encryptionContextSubset: subset
        )
    }
}

extension Matcher {
    /// As the parser builds it: case-insensitive patterns are stored lowercased.
    static func of(_ patterns: [String], negated: Bool, caseInsensitive: Bool) -> Matcher {
        Matcher(
            patterns: caseInsensitive ? patterns.map { $0.lowercased() } : patterns, negated: negated,
            caseInsensitive: caseInsensitive)
    }
}

/// One generated authorization problem.
struct AccessCase {
    var world: World
    var request: RequestModel
    var keyPolicy: PolicyDocument
    var identityPolicies: [PolicyDocument]
    var grants: [KeyAccess.GrantRule]

    static func random(_ r: inout SplitMix64) -> AccessCase {
        let world = World(partition: r.chance(80) ? "aws" : "aws-cn")
        let (principal, account) = r.pick(world.principals)
        let usesContext = r.chance(60)
        let request = RequestModel(
            principal: principal, account: account, action: r.pick(World.actions), resource: world.keyARN,
            keys: world.requestKeys(principal: principal, account: account, &r),
            encryptionContext: usesContext ? world.randomEncryptionContext(&r) : nil
        )
        return AccessCase(
            world: world, request: request,
            keyPolicy: world.randomPolicy(&r, kind: .resource, most: 4),
            identityPolicies: (0..<r.below(3)).map { _ in world.randomPolicy(&r, kind: .identity, most: 3) },
            grants: (0..<r.below(4)).map { world.randomGrant(&r, id: "g\($0)") }
        )
    }

    func decide(_ context: RequestContext? = nil) -> KeyAccess.Decision {
        KeyAccess.decide(
            context ?? self.request.context, principalAccount: self.request.account, keyAccount: World.accountA,
            keyPolicy: self.keyPolicy, identityPolicies: self.identityPolicies, grants: self.grants,
            encryptionContext: self.request.encryptionContext
        )
    }

    /// The same problem with every list in another order: statements, patterns, conditions,
    /// policy values, identity policies, grants and multi-valued request values.
    func shuffled(_ r: inout SplitMix64) -> (AccessCase, RequestContext, identityOrder: [Int]) {
        var copy = self
        copy.keyPolicy = Self.shuffled(self.keyPolicy, &r)
        let order = r.shuffled(Array(self.identityPolicies.indices))
        copy.identityPolicies = order.map { Self.shuffled(self.identityPolicies[$0], &r) }
        copy.grants = r.shuffled(self.grants)
        var random: SplitMix64? = r
        let context = self.request.context(shuffling: &random)
        r = random!
        return (copy, context, order)
    }

    static func shuffled(_ policy: PolicyDocument, _ r: inout SplitMix64) -> PolicyDocument {
        var statements: [PolicyStatement] = []
        for s in policy.statements {
            var conditions: [Condition] = []
            for c in s.conditions {
                let values = r.shuffled(c.values)
                conditions.append(
                    Condition(test: c.test, setForm: c.setForm, ifExists: c.ifExists, key: c.key, values: values))
            }
            let actions = Matcher(
                patterns: r.shuffled(s.actions.patterns), negated: s.actions.negated,
                caseInsensitive: s.actions.caseInsensitive)
            var resources: Matcher?
            if let given = s.resources {
                resources = Matcher(
                    patterns: r.shuffled(given.patterns), negated: given.negated, caseInsensitive: given.caseInsensitive
                )
            }
            let shuffledConditions = r.shuffled(conditions)
            statements.append(
                PolicyStatement(
                    sid: s.sid, effect: s.effect, principal: s.principal, actions: actions, resources: resources,
                    conditions: shuffledConditions
                ))
        }
        return PolicyDocument(version: policy.version, id: policy.id, statements: r.shuffled(statements))
    }
}
