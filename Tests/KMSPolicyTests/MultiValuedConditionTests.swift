import Foundation
import KMSDomain
import Testing

@testable import KMSPolicy

/// Issue 15 item 9: conditions over multi-valued keys, absent keys and empty value lists, as
/// IAM documents them; where IAM leaves a case undefined (an operator without a set prefix on a
/// key with several request values), the reading that no order of values can change.
@Suite struct MultiValuedConditionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let op: String
        let policyValues: [String]
        let request: [String]?  // nil: the key is absent
        let expected: Bool
        var testDescription: String { "\(op) \(policyValues) vs \(request.map { "\($0)" } ?? "absent") → \(expected)" }
    }

    static let cases: [Case] = [
        // An operator without a set prefix on several request values: a positive operator holds
        // when any request value matches, a Not* operator only when none does.
        Case(op: "StringEquals", policyValues: ["Owner"], request: ["A", "Owner"], expected: true),
        Case(op: "StringEquals", policyValues: ["Owner"], request: ["Owner", "A"], expected: true),
        Case(op: "StringEquals", policyValues: ["Owner"], request: ["A", "B"], expected: false),
        Case(op: "StringNotEquals", policyValues: ["Owner"], request: ["A", "Owner"], expected: false),
        Case(op: "StringNotEquals", policyValues: ["Owner"], request: ["Owner", "A"], expected: false),
        Case(op: "StringNotEquals", policyValues: ["Owner"], request: ["A", "B"], expected: true),
        Case(op: "StringLike", policyValues: ["Own*"], request: ["x", "Owner"], expected: true),
        Case(op: "StringNotLike", policyValues: ["Own*"], request: ["x", "Owner"], expected: false),
        Case(op: "StringEqualsIgnoreCase", policyValues: ["owner"], request: ["x", "OWNER"], expected: true),
        Case(op: "StringNotEqualsIgnoreCase", policyValues: ["owner"], request: ["x", "OWNER"], expected: false),
        // IfExists: an absent key (or an empty list) makes the condition hold, whatever the set form.
        Case(op: "ForAnyValue:StringEqualsIfExists", policyValues: ["Owner"], request: nil, expected: true),
        Case(op: "ForAnyValue:StringEqualsIfExists", policyValues: ["Owner"], request: [], expected: true),
        Case(op: "ForAnyValue:StringNotEqualsIfExists", policyValues: ["Owner"], request: nil, expected: true),
        Case(op: "ForAllValues:StringEqualsIfExists", policyValues: ["Owner"], request: nil, expected: true),
        Case(op: "ForAnyValue:StringEqualsIfExists", policyValues: ["Owner"], request: ["A", "Owner"], expected: true),
        Case(op: "ForAnyValue:StringEqualsIfExists", policyValues: ["Owner"], request: ["A"], expected: false),
        Case(
            op: "ForAllValues:StringEqualsIfExists", policyValues: ["Owner"], request: ["A", "Owner"], expected: false),
        Case(op: "StringNotEqualsIfExists", policyValues: ["Owner"], request: ["A", "Owner"], expected: false),
        // Set forms on absent keys and empty lists: ForAllValues holds, ForAnyValue does not.
        Case(op: "ForAllValues:StringEquals", policyValues: ["Owner"], request: [], expected: true),
        Case(op: "ForAnyValue:StringEquals", policyValues: ["Owner"], request: [], expected: false),
        Case(op: "ForAnyValue:StringNotEquals", policyValues: ["Owner"], request: nil, expected: false),
        Case(op: "ForAllValues:StringNotEquals", policyValues: ["Owner"], request: nil, expected: true),
        // Negated operators with a set prefix: ForAllValues: no request value matches any policy
        // value; ForAnyValue: some request value matches none.
        Case(op: "ForAllValues:StringNotLike", policyValues: ["key1*"], request: ["key1:legal"], expected: false),
        Case(op: "ForAllValues:StringNotLike", policyValues: ["key1*"], request: ["key2:audit"], expected: true),
        Case(
            op: "ForAllValues:StringNotLike", policyValues: ["key1*"], request: ["key2:audit", "key1:hr"],
            expected: false),
        Case(
            op: "ForAnyValue:StringNotLike", policyValues: ["key1*"], request: ["key1:hr", "key2:audit"], expected: true
        ),
        Case(op: "ForAnyValue:StringNotLike", policyValues: ["key1*"], request: ["key1:hr"], expected: false),
        // Without a set prefix, absent: a Not* operator holds (nothing equals), a positive one fails.
        Case(op: "StringNotEquals", policyValues: ["Owner"], request: [], expected: true),
        Case(op: "StringEquals", policyValues: ["Owner"], request: [], expected: false),
        // Numbers and dates against several request values.
        Case(op: "NumericGreaterThan", policyValues: ["30"], request: ["10", "40"], expected: true),
        Case(op: "NumericNotEquals", policyValues: ["30"], request: ["30", "40"], expected: false),
        Case(op: "DateNotEquals", policyValues: ["1700000000"], request: ["1", "1700000000"], expected: false),
        Case(op: "NotIpAddress", policyValues: ["10.0.0.0/8"], request: ["192.0.2.1", "10.1.2.3"], expected: false),
        Case(op: "IpAddress", policyValues: ["10.0.0.0/8"], request: ["192.0.2.1", "10.1.2.3"], expected: true),
        // Null on a multi-valued key: an empty list is null, like an absent key.
        Case(op: "Null", policyValues: ["true"], request: [], expected: true),
        Case(op: "Null", policyValues: ["false"], request: [], expected: false),
        Case(op: "Null", policyValues: ["false"], request: ["A", "B"], expected: true),
        Case(op: "Null", policyValues: ["true"], request: ["A", "B"], expected: false),
    ]

    static func holds(_ op: String, _ policyValues: [String], _ request: [String]?, key: String = "aws:TagKeys") -> Bool
    {
        let (test, form, ifExists) = Condition.parseOperator(op)!
        let condition = Condition(test: test, setForm: form, ifExists: ifExists, key: key, values: policyValues)
        var context = RequestContext(
            principalARN: "arn:aws:iam::111122223333:role/app", action: "kms:TagResource", resource: "*")
        if let request { context.set(key, request) }
        return condition.holds(in: context)
    }

    @Test(arguments: cases)
    func evaluates(_ c: Case) {
        #expect(Self.holds(c.op, c.policyValues, c.request) == c.expected)
        // Neither the order of the request values nor that of the policy values may matter.
        if let request = c.request {
            #expect(Self.holds(c.op, c.policyValues.reversed(), request.reversed()) == c.expected)
        }
    }

    /// The issue's probe: a Deny on tag key Owner that ['Owner'] hits must hit ['A', 'Owner'] too.
    @Test func aDenyOnOneTagKeyCannotBeDodgedByListingAnotherFirst() throws {
        let policy = try PolicyDocument.parse(
            """
            {"Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
              {"Sid": "NoOwnerTag", "Effect": "Deny", "Principal": "*", "Action": "kms:TagResource", "Resource": "*",
               "Condition": {"StringEquals": {"aws:TagKeys": "Owner"}}}
            ]}
            """, kind: .resource)
        for tags in [["Owner"], ["A", "Owner"], ["Owner", "A"], ["A", "Owner", "B"]] {
            var context = RequestContext(
                principalARN: "arn:aws:iam::111122223333:role/app", action: "kms:TagResource", resource: "*")
            context.set("aws:TagKeys", tags)
            #expect(policy.evaluate(context) == .explicitDeny(sid: "NoOwnerTag"), "\(tags)")
        }
    }

    /// Encryption context keys are distinct by case in KMS but name one condition key in IAM: a
    /// Deny on kms:EncryptionContext:app must see every value of app, APP and App, not whichever
    /// the dictionary happened to list last.
    @Test func encryptionContextKeysThatDifferOnlyByCaseAreOneMultiValuedConditionKey() throws {
        let policy = try PolicyDocument.parse(
            """
            {"Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
              {"Sid": "NoSecret", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
               "Condition": {"StringEquals": {"kms:EncryptionContext:app": "secret"}}}
            ]}
            """, kind: .resource)
        for other in ["APP", "App", "aPp", "apP"] {
            var context = RequestContext(
                principalARN: "arn:aws:iam::111122223333:role/app", action: "kms:Decrypt", resource: "*")
            context.setEncryptionContext(["app": "secret", other: "harmless"])
            #expect(policy.evaluate(context) == .explicitDeny(sid: "NoSecret"), "\(other)")
            var swapped = RequestContext(
                principalARN: "arn:aws:iam::111122223333:role/app", action: "kms:Decrypt", resource: "*")
            swapped.setEncryptionContext(["app": "harmless", other: "secret"])
            #expect(policy.evaluate(swapped) == .explicitDeny(sid: "NoSecret"), "\(other)")
        }
    }

    /// A Deny on a tag of the key: tags whose keys differ only by case are one condition key.
    @Test func resourceTagsThatDifferOnlyByCaseAreOneMultiValuedConditionKey() {
        let condition = Condition(
            test: .stringEquals, setForm: .single, ifExists: false, key: "aws:ResourceTag/env", values: ["prod"])
        for tags in [["env": "prod", "ENV": "dev"], ["env": "dev", "Env": "prod"]] {
            var context = RequestContext(
                principalARN: "arn:aws:iam::111122223333:role/app", action: "kms:Decrypt", resource: "*")
            context.setPrefixed("aws:ResourceTag/", tags)
            #expect(condition.holds(in: context), "\(tags)")
        }
    }
}

@Suite struct PolicyDateTests {
    /// The hand-written ISO 8601 reader agrees with Foundation's on the forms policies use.
    @Test(arguments: [
        "2023-11-14", "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.5Z", "2023-11-14T22:13:20.250Z",
        "2023-11-14T22:13:20+01:30",
        "2023-11-14T22:13:20-08:00", "2000-02-29", "1970-01-01T00:00:00Z", "2100-12-31T23:59:59Z",
        "1999-12-31T23:59:59.999Z",
    ])
    func agreesWithFoundation(text: String) throws {
        let ours = try #require(PolicyDate.iso8601(Array(text.utf8)))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions =
            text.count == 10
            ? [.withFullDate]
            : text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        let theirs = try #require(formatter.date(from: text)).timeIntervalSince1970
        #expect(abs(ours - theirs) < 0.001, "\(ours) vs \(theirs)")
    }

    @Test(arguments: [
        "2023-02-29", "2023-13-01", "2023-11-14T24:00:00Z", "2023-11-14T22:13:20", "2023-11-14T22:13:20.Z",
        "2023/11/14", "web", "2023-11-14T22:13:20+0100x",
    ])
    func refusesWhatIsNotADate(text: String) {
        #expect(PolicyDate.iso8601(Array(text.utf8)) == nil)
    }
}
