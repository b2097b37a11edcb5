import KMSDomain
import Testing

@testable import KMSPolicy

/// `GrantRule.permitsChild` (issue 15 item 1): a grant created on the authority of a grant
/// carries a subset of its operations and constraints at least as strict.
@Suite struct GrantNarrowingTests {
    static let grantee = "arn:aws:iam::111122223333:role/app"

    static func parent(_ operations: Set<String>, equals: [String: String]? = nil, subset: [String: String]? = nil)
        -> KeyAccess.GrantRule
    {
        KeyAccess.GrantRule(
            id: "parent", granteePrincipal: Self.grantee, operations: operations, encryptionContextEquals: equals,
            encryptionContextSubset: subset)
    }

    @Test func operationsMustBeASubsetAndTheParentMustAllowCreateGrant() {
        let parent = Self.parent(["CreateGrant", "Decrypt", "Encrypt"])
        #expect(
            parent.permitsChild(operations: ["Decrypt"], encryptionContextEquals: nil, encryptionContextSubset: nil))
        #expect(
            parent.permitsChild(
                operations: ["Decrypt", "CreateGrant"], encryptionContextEquals: nil, encryptionContextSubset: nil))
        #expect(
            !parent.permitsChild(
                operations: ["Decrypt", "ReEncryptFrom"], encryptionContextEquals: nil, encryptionContextSubset: nil))
        #expect(
            !parent.permitsChild(operations: ["decrypt"], encryptionContextEquals: nil, encryptionContextSubset: nil))
        // The issue's escalation: a grant allowing only CreateGrant cannot beget Decrypt.
        let onlyCreate = Self.parent(["CreateGrant"])
        #expect(
            !onlyCreate.permitsChild(
                operations: ["Decrypt"], encryptionContextEquals: nil, encryptionContextSubset: nil))
        #expect(
            !onlyCreate.permitsChild(
                operations: ["CreateGrant", "Encrypt"], encryptionContextEquals: nil, encryptionContextSubset: nil))
        // A grant without CreateGrant is no authority for any grant.
        #expect(
            !Self.parent(["Decrypt"]).permitsChild(
                operations: ["Decrypt"], encryptionContextEquals: nil, encryptionContextSubset: nil))
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let parentEquals: [String: String]?
        let parentSubset: [String: String]?
        let childEquals: [String: String]?
        let childSubset: [String: String]?
        let permitted: Bool
        var testDescription: String {
            "parent(=\(parentEquals.map { "\($0)" } ?? "-"), ⊇\(parentSubset.map { "\($0)" } ?? "-")) "
                + "child(=\(childEquals.map { "\($0)" } ?? "-"), ⊇\(childSubset.map { "\($0)" } ?? "-")) → \(permitted)"
        }
    }

    static let cases: [Case] = [
        // A parent without constraints: anything.
        Case(parentEquals: nil, parentSubset: nil, childEquals: nil, childSubset: nil, permitted: true),
        Case(parentEquals: nil, parentSubset: nil, childEquals: ["a": "1"], childSubset: nil, permitted: true),
        Case(parentEquals: nil, parentSubset: nil, childEquals: nil, childSubset: ["a": "1"], permitted: true),
        // Parent Equals E: the child needs Equals E exactly (keys folded), nothing else will do.
        Case(parentEquals: ["a": "1"], parentSubset: nil, childEquals: ["a": "1"], childSubset: nil, permitted: true),
        Case(parentEquals: ["a": "1"], parentSubset: nil, childEquals: ["A": "1"], childSubset: nil, permitted: true),
        Case(
            parentEquals: ["a": "1"], parentSubset: nil, childEquals: ["a": "1"], childSubset: ["a": "1"],
            permitted: true),
        Case(parentEquals: ["a": "1"], parentSubset: nil, childEquals: ["a": "2"], childSubset: nil, permitted: false),
        Case(
            parentEquals: ["a": "1"], parentSubset: nil, childEquals: ["a": "1", "b": "2"], childSubset: nil,
            permitted: false),
        Case(
            parentEquals: ["a": "1", "b": "2"], parentSubset: nil, childEquals: ["a": "1"], childSubset: nil,
            permitted: false),
        Case(
            parentEquals: ["a": "1"], parentSubset: nil, childEquals: ["a": "1", "A": "1"], childSubset: nil,
            permitted: false),
        Case(parentEquals: ["a": "1"], parentSubset: nil, childEquals: nil, childSubset: ["a": "1"], permitted: false),
        Case(parentEquals: ["a": "1"], parentSubset: nil, childEquals: nil, childSubset: nil, permitted: false),
        Case(parentEquals: ["a": "1"], parentSubset: nil, childEquals: [:], childSubset: nil, permitted: false),
        Case(
            parentEquals: ["a": "1"], parentSubset: nil, childEquals: ["a": "1"], childSubset: ["b": "2"],
            permitted: true),
        // Parent Equals {} allows only the empty context: so must the child.
        Case(parentEquals: [:], parentSubset: nil, childEquals: [:], childSubset: nil, permitted: true),
        Case(parentEquals: [:], parentSubset: nil, childEquals: nil, childSubset: [:], permitted: false),
        Case(parentEquals: [:], parentSubset: nil, childEquals: nil, childSubset: nil, permitted: false),
        // Parent Subset S: child Subset S' ⊇ S, or child Equals E' ⊇ S.
        Case(parentEquals: nil, parentSubset: ["a": "1"], childEquals: nil, childSubset: ["a": "1"], permitted: true),
        Case(
            parentEquals: nil, parentSubset: ["a": "1"], childEquals: nil, childSubset: ["a": "1", "b": "2"],
            permitted: true),
        Case(parentEquals: nil, parentSubset: ["a": "1"], childEquals: nil, childSubset: ["A": "1"], permitted: true),
        Case(parentEquals: nil, parentSubset: ["a": "1"], childEquals: nil, childSubset: ["a": "2"], permitted: false),
        Case(parentEquals: nil, parentSubset: ["a": "1"], childEquals: nil, childSubset: ["b": "2"], permitted: false),
        Case(parentEquals: nil, parentSubset: ["a": "1"], childEquals: nil, childSubset: [:], permitted: false),
        Case(parentEquals: nil, parentSubset: ["a": "1"], childEquals: nil, childSubset: nil, permitted: false),
        Case(
            parentEquals: nil, parentSubset: ["a": "1", "b": "2"], childEquals: nil, childSubset: ["a": "1"],
            permitted: false),
        Case(parentEquals: nil, parentSubset: ["a": "1"], childEquals: ["a": "1"], childSubset: nil, permitted: true),
        Case(
            parentEquals: nil, parentSubset: ["a": "1"], childEquals: ["a": "1", "c": "3"], childSubset: nil,
            permitted: true),
        Case(parentEquals: nil, parentSubset: ["a": "1"], childEquals: ["A": "1"], childSubset: nil, permitted: true),
        Case(
            parentEquals: nil, parentSubset: ["a": "1"], childEquals: ["a": "one"], childSubset: nil, permitted: false),
        Case(parentEquals: nil, parentSubset: ["a": "1"], childEquals: [:], childSubset: nil, permitted: false),
        // Parent Subset {} constrains nothing, yet a child must still carry a constraint
        // (the rule as AWS states it; stricter than needed, never looser).
        Case(parentEquals: nil, parentSubset: [:], childEquals: nil, childSubset: [:], permitted: true),
        Case(parentEquals: nil, parentSubset: [:], childEquals: [:], childSubset: nil, permitted: true),
        Case(parentEquals: nil, parentSubset: [:], childEquals: nil, childSubset: nil, permitted: false),
        // A parent with both: the child's Equals must equal the parent's and hold its Subset.
        Case(
            parentEquals: ["a": "1", "b": "2"], parentSubset: ["a": "1"], childEquals: ["a": "1", "b": "2"],
            childSubset: nil, permitted: true),
        Case(
            parentEquals: ["a": "1"], parentSubset: ["b": "2"], childEquals: ["a": "1"], childSubset: nil,
            permitted: false),
        Case(
            parentEquals: ["a": "1", "b": "2"], parentSubset: ["a": "1"], childEquals: nil,
            childSubset: ["a": "1", "b": "2"], permitted: false),
    ]

    @Test(arguments: cases)
    func constraintsMustBeAtLeastAsStrict(_ c: Case) {
        let parent = Self.parent(["CreateGrant", "Decrypt"], equals: c.parentEquals, subset: c.parentSubset)
        #expect(
            parent.permitsChild(
                operations: ["Decrypt"], encryptionContextEquals: c.childEquals, encryptionContextSubset: c.childSubset)
                == c.permitted)
    }

    /// AWS: "in a grant constraint, the key in each key-value pair is not case sensitive, but the
    /// value is case sensitive". Keys were compared case-sensitively.
    @Test func grantConstraintKeysIgnoreCaseButValuesDoNot() {
        let subset = KeyAccess.GrantRule(
            id: "s", granteePrincipal: Self.grantee, operations: ["Decrypt"], encryptionContextSubset: ["App": "web"])
        #expect(
            subset.allows(principal: Self.grantee, operation: "Decrypt", encryptionContext: ["app": "web", "x": "y"]))
        #expect(subset.allows(principal: Self.grantee, operation: "Decrypt", encryptionContext: ["APP": "web"]))
        #expect(!subset.allows(principal: Self.grantee, operation: "Decrypt", encryptionContext: ["app": "Web"]))
        #expect(
            !subset.allows(principal: Self.grantee, operation: "Decrypt", encryptionContext: ["app": "db", "x": "web"]))
        let equals = KeyAccess.GrantRule(
            id: "e", granteePrincipal: Self.grantee, operations: ["Decrypt"], encryptionContextEquals: ["app": "web"])
        #expect(equals.allows(principal: Self.grantee, operation: "Decrypt", encryptionContext: ["App": "web"]))
        #expect(!equals.allows(principal: Self.grantee, operation: "Decrypt", encryptionContext: ["app": "WEB"]))
        // Two pairs are never equal to one, even when their keys fold to the same.
        #expect(
            !equals.allows(
                principal: Self.grantee, operation: "Decrypt", encryptionContext: ["app": "web", "APP": "web"]))
        #expect(
            !equals.allows(
                principal: Self.grantee, operation: "Decrypt", encryptionContext: ["app": "web", "APP": "db"]))
        let twin = KeyAccess.GrantRule(
            id: "t", granteePrincipal: Self.grantee, operations: ["Decrypt"],
            encryptionContextEquals: ["a": "1", "A": "2"])
        #expect(twin.allows(principal: Self.grantee, operation: "Decrypt", encryptionContext: ["A": "1", "a": "2"]))
        #expect(!twin.allows(principal: Self.grantee, operation: "Decrypt", encryptionContext: ["a": "1", "A": "1"]))
    }

    /// Grant constraints apply to the operations that take an encryption context; DescribeKey,
    /// RetireGrant and CreateGrant ignore them (as AWS documents), so a constrained grant can
    /// still authorize CreateGrant, whose child must then carry the constraint.
    @Test func constraintsApplyOnlyToOperationsThatTakeAnEncryptionContext() {
        let grant = Self.parent(["CreateGrant", "DescribeKey", "Decrypt", "GenerateDataKey"], subset: ["tenant": "a"])
        for operation in ["CreateGrant", "DescribeKey"] {
            #expect(grant.allows(principal: Self.grantee, operation: operation, encryptionContext: nil), "\(operation)")
        }
        for operation in ["Decrypt", "GenerateDataKey"] {
            #expect(
                !grant.allows(principal: Self.grantee, operation: operation, encryptionContext: nil), "\(operation)")
            #expect(
                !grant.allows(principal: Self.grantee, operation: operation, encryptionContext: [:]), "\(operation)")
            #expect(
                !grant.allows(principal: Self.grantee, operation: operation, encryptionContext: ["tenant": "b"]),
                "\(operation)")
            #expect(
                grant.allows(
                    principal: Self.grantee, operation: operation, encryptionContext: ["tenant": "a", "x": "y"]),
                "\(operation)")
        }
        #expect(
            !grant.allows(
                principal: "arn:aws:iam::111122223333:role/other", operation: "DescribeKey", encryptionContext: nil))
        #expect(
            !grant.permitsChild(operations: ["Decrypt"], encryptionContextEquals: nil, encryptionContextSubset: nil))
        #expect(
            grant.permitsChild(
                operations: ["Decrypt"], encryptionContextEquals: nil, encryptionContextSubset: ["tenant": "a"]))
    }
}
