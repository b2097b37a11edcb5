import KMSDomain
import Testing

@testable import KMSPolicy

/// Every operator, set form, IfExists and Not* case, as a table: a one-statement identity
/// policy whose only condition is the operator under test, evaluated against one request.
@Suite struct ConditionOperatorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let op: String
        let key: String
        let policyValues: String  // JSON value: a string or a list
        let request: [String]?  // nil: the key is absent from the request
        let expected: Bool
        var testDescription: String {
            "\(op) \(key)=\(policyValues) vs \(request.map { "\($0)" } ?? "absent") → \(expected)"
        }
    }

    static let cases: [Case] = [
        // String
        Case(
            op: "StringEquals", key: "kms:EncryptionContext:app", policyValues: "\"web\"", request: ["web"],
            expected: true),
        Case(
            op: "StringEquals", key: "kms:EncryptionContext:app", policyValues: "\"web\"", request: ["Web"],
            expected: false),
        Case(
            op: "StringEquals", key: "kms:EncryptionContext:app", policyValues: "[\"a\",\"web\"]", request: ["web"],
            expected: true),
        Case(
            op: "StringEquals", key: "kms:EncryptionContext:app", policyValues: "\"web\"", request: nil, expected: false
        ),
        Case(
            op: "StringNotEquals", key: "kms:EncryptionContext:app", policyValues: "[\"a\",\"b\"]", request: ["c"],
            expected: true),
        Case(
            op: "StringNotEquals", key: "kms:EncryptionContext:app", policyValues: "[\"a\",\"b\"]", request: ["b"],
            expected: false),
        Case(
            op: "StringNotEquals", key: "kms:EncryptionContext:app", policyValues: "\"a\"", request: nil, expected: true
        ),
        Case(
            op: "StringEqualsIgnoreCase", key: "kms:CallerAccount", policyValues: "\"ABC\"", request: ["abc"],
            expected: true),
        Case(
            op: "StringNotEqualsIgnoreCase", key: "kms:CallerAccount", policyValues: "\"ABC\"", request: ["abc"],
            expected: false),
        Case(
            op: "StringLike", key: "kms:RequestAlias", policyValues: "\"alias/app-*\"", request: ["alias/app-prod"],
            expected: true),
        Case(
            op: "StringLike", key: "kms:RequestAlias", policyValues: "\"alias/app-?\"", request: ["alias/app-12"],
            expected: false),
        Case(
            op: "StringNotLike", key: "kms:RequestAlias", policyValues: "\"alias/app-*\"", request: ["alias/other"],
            expected: true),
        // ARN
        Case(
            op: "ArnEquals", key: "aws:PrincipalArn", policyValues: "\"arn:aws:iam::111122223333:role/app\"",
            request: ["arn:aws:iam::111122223333:role/app"], expected: true),
        Case(
            op: "ArnLike", key: "aws:PrincipalArn", policyValues: "\"arn:aws:iam::*:role/app-*\"",
            request: ["arn:aws:iam::111122223333:role/app-1"], expected: true),
        Case(
            op: "ArnLike", key: "aws:PrincipalArn", policyValues: "\"arn:aws:iam::*:role/app-*\"",
            request: ["arn:aws:iam::111122223333:user/app-1"], expected: false),
        Case(
            op: "ArnLike", key: "aws:PrincipalArn", policyValues: "\"arn:aws:iam::1111*\"",
            request: ["arn:aws:iam::111122223333:root"], expected: false),
        Case(
            op: "ArnNotEquals", key: "aws:PrincipalArn", policyValues: "\"arn:aws:iam::111122223333:root\"",
            request: ["arn:aws:iam::111122223333:role/x"], expected: true),
        Case(
            op: "ArnNotLike", key: "aws:PrincipalArn", policyValues: "\"arn:aws:iam::*:role/*\"",
            request: ["arn:aws:iam::111122223333:role/x"], expected: false),
        // Numeric
        Case(op: "NumericEquals", key: "kms:ExpirationDays", policyValues: "30", request: ["30"], expected: true),
        Case(op: "NumericNotEquals", key: "kms:ExpirationDays", policyValues: "30", request: ["31"], expected: true),
        Case(
            op: "NumericLessThan", key: "kms:ExpirationDay" + "s", policyValues: "\"30\"", request: ["29.5"],
            expected: true),
        Case(
            op: "NumericLessThanEqual" + "s", key: "kms:ExpirationDays", policyValues: "30", request: ["30"],
            expected: true),
        Case(op: "NumericGreaterThan", key: "kms:ExpirationDays", policyValues: "30", request: ["30"], expected: false),
        Case(
            op: "NumericGreaterThanEquals", key: "kms:ExpirationDays", policyValues: "30", request: ["31"],
            expected: true),
        Case(op: "NumericEquals", key: "kms:ExpirationDays", policyValues: "30", request: ["thirty"], expected: false),
        // Date
        Case(
            op: "DateLessThan", key: "aws:CurrentTime", policyValues: "\"2030-01-01T00:00:00Z\"",
            request: ["1700000000"], expected: true),
        Case(
            op: "DateGreaterThan", key: "aws:CurrentTime", policyValues: "\"2030-01-01T00:00:00Z\"",
            request: ["1700000000"], expected: false),
        Case(
            op: "DateEquals", key: "aws:CurrentTime", policyValues: "\"2023-11-14T22:13:20Z\"", request: ["1700000000"],
            expected: true),
        Case(
            op: "DateNotEquals", key: "aws:CurrentTime", policyValues: "\"2023-11-14T22:13:20Z\"",
            request: ["1700000001"], expected: true),
        Case(
            op: "DateLessThanEquals", key: "aws:CurrentTime", policyValues: "\"2023-11-14\"", request: ["1699920000"],
            expected: true),
        Case(
            op: "DateGreaterThanEquals", key: "aws:CurrentTime", policyValues: "1700000000", request: ["1700000000"],
            expected: true),
        // Bool
        Case(op: "Bool", key: "aws:SecureTransport", policyValues: "\"true\"", request: ["true"], expected: true),
        Case(op: "Bool", key: "aws:SecureTransport", policyValues: "true", request: ["false"], expected: false),
        Case(
            op: "Bool", key: "kms:BypassPolicyLockoutSafetyCheck", policyValues: "true", request: nil, expected: false),
        // IP
        Case(
            op: "IpAddress", key: "aws:SourceIp", policyValues: "\"10.0.0.0/8" + "\"", request: ["10.1.2.3"],
            expected: true),
        Case(
            op: "IpAddress", key: "aws:SourceIp", policyValues: "\"10.0.0.0/8\"", request: ["11.1.2.3"], expected: false
        ),
        Case(
            op: "IpAddress", key: "aws:SourceIp", policyValues: "[\"192.0.2.7\",\"2001:db8::/32\"]",
            request: ["2001:db8:1::5"], expected: true),
        Case(
            op: "IpAddress", key: "aws:SourceIp", policyValues: "\"203.0.113.0/25\"", request: ["203.0.113.200"],
            expected: false),
        Case(
            op: "NotIpAddress", key: "aws:SourceIp", policyValues: "\"10.0.0.0/8\"", request: ["11.1.2.3"],
            expected: true),
        Case(op: "NotIpAddress", key: "aws:SourceIp", policyValues: "\"::1\"", request: ["::1"], expected: false),
        // Null
        Case(op: "Null", key: "kms:EncryptionContext:app", policyValues: "\"true\"", request: nil, expected: true),
        Case(op: "Null", key: "kms:EncryptionContext:app", policyValues: "\"true\"", request: ["x"], expected: false),
        Case(op: "Null", key: "kms:EncryptionContext:app", policyValues: "false", request: ["x"], expected: true),
        // IfExists
        Case(
            op: "StringEqualsIfExists", key: "kms:EncryptionContext:app", policyValues: "\"web\"", request: nil,
            expected: true),
        Case(
            op: "StringEqualsIfExists", key: "kms:EncryptionContext:app", policyValues: "\"web\"", request: ["db"],
            expected: false),
        Case(
            op: "NumericLessThanIfExist" + "s", key: "kms:ExpirationDays", policyValues: "5", request: ["4"],
            expected: true),
        Case(
            op: "IpAddressIfExists", key: "aws:SourceIp", policyValues: "\"10.0.0.0/8\"", request: nil, expected: true),
        // Set forms
        Case(
            op: "ForAnyValue:StringEquals", key: "kms:EncryptionContextKeys", policyValues: "[\"app\"]",
            request: ["app", "env"], expected: true),
        Case(
            op: "ForAnyValue:StringEquals", key: "kms:EncryptionContextKeys", policyValues: "[\"app\"]",
            request: ["env"], expected: false),
        Case(
            op: "ForAnyValue:StringEquals", key: "kms:EncryptionContextKeys", policyValues: "[\"app\"]", request: nil,
            expected: false),
        Case(
            op: "ForAllValues:StringEquals", key: "kms:EncryptionContextKeys", policyValues: "[\"app\",\"env\"]",
            request: ["app", "env"], expected: true),
        Case(
            op: "ForAllValues:StringEquals", key: "kms:EncryptionContextKeys", policyValues: "[\"app\",\"env\"]",
            request: ["app", "tenant"], expected: false),
        Case(
            op: "ForAllValues:StringEquals", key: "kms:EncryptionContextKeys", policyValues: "[\"app\"]", request: nil,
            expected: true),
        Case(
            op: "ForAllValues:StringLike", key: "kms:GrantOperations", policyValues: "[\"Decrypt\",\"Encrypt*\"]",
            request: ["Decrypt", "Encrypt"], expected: true),
        Case(
            op: "ForAnyValue:StringNotEquals", key: "kms:GrantOperations", policyValues: "[\"Decrypt\"]",
            request: ["Decrypt", "Encrypt"], expected: true),
        Case(
            op: "ForAllValues:StringNotEquals", key: "kms:GrantOperations", policyValues: "[\"Decrypt\"]",
            request: ["Decrypt", "Encrypt"], expected: false),
        Case(
            op: "ForAnyValue:StringEqualsIfExists", key: "kms:GrantOperations", policyValues: "[\"Decrypt\"]",
            request: ["Encrypt"], expected: false),
    ]

    @Test(arguments: cases)
    func evaluates(_ c: Case) throws {
        let policy = try PolicyDocument.parse(
            """
            {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*",
             "Condition": {"\(c.op)": {"\(c.key)": \(c.policyValues)}}}}
            """, kind: .identity)
        var context = RequestContext(
            principalARN: "arn:aws:iam::111122223333:role/app", action: "kms:Decrypt",
            resource: "arn:aws:kms:us-east-1:111122223333:key/k")
        if let request = c.request { context.set(c.key, request) }
        #expect((policy.evaluate(context) == .allow) == c.expected)
    }

    @Test func conditionKeyNamesIgnoreCase() throws {
        let policy = try PolicyDocument.parse(
            """
            {"Statement": {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"KMS:CALLERACCOUNT": "111122223333"}}}}
            """, kind: .identity)
        var context = RequestContext(
            principalARN: "arn:aws:iam::111122223333:root", action: "kms:Decrypt", resource: "*")
        context.set("kms:CallerAccount", "111122223333")
        #expect(policy.evaluate(context) == .allow)
    }

    @Test func allConditionsMustHold() throws {
        let policy = try PolicyDocument.parse(
            """
            {"Statement": {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:app": "web", "kms:CallerAccount": "111122223333"},
                           "Bool": {"aws:SecureTransport": "true"}}}}
            """, kind: .identity)
        var context = RequestContext(
            principalARN: "arn:aws:iam::111122223333:root", action: "kms:Decrypt", resource: "*")
        context.setEncryptionContext(["app": "web"])
        context.set("kms:CallerAccount", "111122223333")
        #expect(policy.evaluate(context) == .notApplicable)
        context.set("aws:SecureTransport", true)
        #expect(policy.evaluate(context) == .allow)
    }
}
