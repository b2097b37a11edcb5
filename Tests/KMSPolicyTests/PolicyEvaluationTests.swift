import KMSDomain
import Testing

@testable import KMSPolicy

@Suite struct PolicyEvaluationTests {
    static let keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    static func context(_ principal: String, _ action: String, resource: String = keyARN) -> RequestContext {
        RequestContext(principalARN: principal, action: action, resource: resource)
    }

    @Test func theDefaultKeyPolicyAllowsTheAccountRootOnly() throws {
        let policy = try PolicyDocument.parse(
            DefaultKeyPolicy.document(partition: "aws", account: "111122223333"), kind: .resource)
        #expect(policy.evaluate(Self.context("arn:aws:iam::111122223333:root", "kms:PutKeyPolicy")) == .allow)
        #expect(policy.evaluate(Self.context("arn:aws:iam::111122223333:role/app", "kms:Decrypt")) == .notApplicable)
        #expect(policy.evaluate(Self.context("arn:aws:iam::444455556666:root", "kms:Decrypt")) == .notApplicable)
    }

    @Test(arguments: [
        ("kms:*", "kms:Encrypt", true), ("kms:Gen*", "kms:GenerateDataKey", true), ("kms:Gen*", "kms:Encrypt", false),
        ("kms:Re*", "kms:ReEncryptFrom", true), ("KMS:ENCRYPT", "kms:Encrypt", true), ("*", "kms:Decrypt", true),
        ("kms:Decrypt", "kms:DecryptX", false), ("kms:?ncrypt", "kms:Encrypt", true),
    ])
    func actionsMatchWithWildcardsAndIgnoreCase(pattern: String, action: String, matches: Bool) throws {
        let policy = try PolicyDocument.parse(
            """
            {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "\(pattern)", "Resource": "*"}]}
            """, kind: .resource)
        #expect((policy.evaluate(Self.context("arn:aws:iam::111122223333:role/r", action)) == .allow) == matches)
    }

    @Test func notActionNotResourceAndNotPrincipal() throws {
        let policy = try PolicyDocument.parse(
            """
            {"Statement": [
              {"Sid": "AllButDelete", "Effect": "Allow", "Principal": {"AWS": "111122223333"},
               "NotAction": ["kms:ScheduleKeyDeletion", "kms:Disable*"], "NotResource": "arn:aws:kms:*:*:key/secret-*"},
              {"Sid": "OthersNoEncrypt", "Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root"]},
               "Action": "kms:Encrypt", "Resource": "*"}
            ]}
            """, kind: .resource)
        let root = "arn:aws:iam::111122223333:root"
        #expect(policy.evaluate(Self.context(root, "kms:Decrypt")) == .allow)
        #expect(policy.evaluate(Self.context(root, "kms:DisableKey")) == .notApplicable)
        #expect(
            policy.evaluate(
                Self.context(root, "kms:Decrypt", resource: "arn:aws:kms:us-east-1:111122223333:key/secret-1"))
                == .notApplicable)
        #expect(
            policy.evaluate(Self.context("arn:aws:iam::111122223333:role/r", "kms:Encrypt"))
                == .explicitDeny(sid: "OthersNoEncrypt"))
        #expect(policy.evaluate(Self.context(root, "kms:Encrypt")) == .allow)
    }

    @Test func anExplicitDenyWinsOverAnAllow() throws {
        let policy = try PolicyDocument.parse(
            """
            {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
              {"Sid": "NoDecryptWithoutContext", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", \
            "Resource": "*",
               "Condition": {"Null": {"kms:EncryptionContext:app": "true"}}}
            ]}
            """, kind: .resource)
        var context = Self.context("arn:aws:iam::111122223333:role/r", "kms:Decrypt")
        #expect(policy.evaluate(context) == .explicitDeny(sid: "NoDecryptWithoutContext"))
        context.setEncryptionContext(["app": "x"])
        #expect(policy.evaluate(context) == .allow)
    }

    @Test func servicePrincipals() throws {
        let policy = try PolicyDocument.parse(
            """
            {"Statement": {"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "kms:Encrypt*"}}
            """, kind: .resource)
        var context = Self.context("arn:aws:iam::111122223333:root", "kms:Encrypt")
        #expect(policy.evaluate(context) == .notApplicable)
        context.service = "logs.amazonaws.com"
        #expect(policy.evaluate(context) == .allow)
    }
}

@Suite struct PolicyValidationTests {
    @Test(arguments: [
        ("", "not a JSON object"),
        ("[]", "not a JSON object"),
        ("{}", "no Statement"),
        ("{\"Statement\": []}", "no Statement"),
        ("{\"Version\": \"2020-01-01\", \"Statement\": {}}", "Version"),
        ("{\"Statement\": {\"Effect\": \"Maybe\", \"Principal\": \"*\", \"Action\": \"kms:*\"}}", "Effect"),
        ("{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"kms:*\"}}", "no Principal"),
        (
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"bob\"}, \"Action\": \"kms:*\"}}",
            "invalid principals"
        ),
        (
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"NotPrincipal\": \"*\", \"Action\": "
                + "\"kms:*\"}}",
            "both Principal and NotPrincipal"
        ),
        ("{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\"}}", "needs Action"),
        (
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"s3:GetObject\"}}",
            "not a kms: action"
        ),
        (
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Condition\": "
                + "{\"StringSorta\": {\"a\": \"b\"}}}}",
            "unknown condition operator"
        ),
        (
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Condition\": "
                + "{\"NullIfExists\": {\"a\": \"true\"}}}}",
            "unknown condition operator"
        ),
        (
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Condition\": "
                + "{\"IpAddress\": {\"aws:SourceIp\": \"10.0.0.0/99\"}}}}",
            "not an IP address"
        ),
        (
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Condition\": "
                + "{\"DateLessThan\": {\"aws:CurrentTime\": \"soon\"}}}}",
            "not a date"
        ),
        (
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Extra\": 1}}",
            "unknown element"
        ),
    ])
    func malformedKeyPoliciesAreRefusedWithAReason(policy: String, reason: String) {
        do {
            _ = try PolicyDocument.parse(policy, kind: .resource)
            Issue.record("accepted \(policy)")
        } catch {
            #expect(error.code == .malformedPolicyDocument)
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func identityPoliciesMayNotNamePrincipalsAndMustNameResources() {
        #expect(throws: KMSError.self) {
            try PolicyDocument.parse(
                "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Resource\": "
                    + "\"*\"}}",
                kind: .identity)
        }
        #expect(throws: KMSError.self) {
            try PolicyDocument.parse("{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"kms:*\"}}", kind: .identity)
        }
    }

    @Test func aPolicyOver32KiBIsRefused() {
        let padding = String(repeating: "x", count: 33_000)
        do {
            _ = try PolicyDocument.parse("{\"Id\": \"\(padding)\", \"Statement\": []}", kind: .resource)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .malformedPolicyDocument)
            #expect(error.message.contains("32768"))
        }
    }

    @Test func anAccountIDPrincipalMeansItsRoot() throws {
        let policy = try PolicyDocument.parse(
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": {\"AWS\": [\"111122223333\"]}, \"Action\": "
                + "\"kms:*\", \"Resource\": \"*\"}}",
            kind: .resource)
        let principal = try #require(policy.statements[0].principal)
        #expect(principal.accounts == ["111122223333"])
        // In whatever partition the deployment runs, and for the root only.
        #expect(principal.matches(principalARN: "arn:aws:iam::111122223333:root", service: nil))
        #expect(principal.matches(principalARN: "arn:aws-cn:iam::111122223333:root", service: nil))
        #expect(!principal.matches(principalARN: "arn:aws:iam::111122223333:user/root", service: nil))
        #expect(!principal.matches(principalARN: "arn:aws:iam::444455556666:root", service: nil))
        #expect(!principal.matches(principalARN: "arn:aws:sts::111122223333:root", service: nil))
    }
}

@Suite struct WildcardTests {
    @Test(arguments: [
        ("*", "", true), ("a*", "abc", true), ("a*c", "abbbc", true), ("a*c", "abcd", false), ("a?c", "abc", true),
        ("a?c", "ac", false), ("*a*a*a*a*b", String(repeating: "a", count: 200), false), ("", "", true),
        ("", "a", false),
    ])
    func matches(pattern: String, subject: String, expected: Bool) {
        #expect(Wildcard.matches(pattern: pattern, subject) == expected)
    }
}

@Suite struct CompiledPatternTests {
    /// Every shape a pattern is compiled to matches exactly as the general matcher does,
    /// including strings that are equal to String's == but not scalar for scalar.
    @Test func compiledPatternsAgreeWithTheGeneralMatcher() {
        let patterns = [
            "*", "", "kms:Decrypt", "kms:Gen*", "kms:*", "kms:?ncrypt", "*crypt", "kms:*Key*", "caf\u{E9}",
            "cafe\u{301}*", "a**", "?",
        ]
        let subjects = [
            "", "kms:Decrypt", "kms:decrypt", "kms:GenerateDataKey", "kms:Gen", "kms:Encrypt", "caf\u{E9}",
            "cafe\u{301}", "cafe\u{301}s", "a", "ab",
        ]
        for pattern in patterns {
            for subject in subjects {
                #expect(
                    WildcardPattern(pattern).matches(subject) == Wildcard.matches(pattern: pattern, subject),
                    "\(pattern) vs \(subject)")
            }
        }
        #expect(WildcardPattern("*") == .anything)
        #expect(WildcardPattern("kms:Decrypt") == .exact("kms:Decrypt"))
        #expect(WildcardPattern("kms:Gen*") == .prefix("kms:Gen"))
        #expect(WildcardPattern("kms:*Key") == .general("kms:*Key"))
    }

    /// The action is lowercased once per context and kept in step when it is changed.
    @Test func theFoldedActionFollowsTheAction() throws {
        let policy = try PolicyDocument.parse(
            #"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "KMS:PUTKEYPOLICY", "Resource": "*"}}"#,
            kind: .resource)
        var context = RequestContext(
            principalARN: "arn:aws:iam::111122223333:root", action: "kms:Decrypt", resource: "*")
        #expect(policy.evaluate(context) == .notApplicable)
        context.action = "kms:PutKeyPolicy"
        #expect(policy.evaluate(context) == .allow)
    }

    @Test func rootARNsAreReadExactly() {
        #expect(RootARN.account(of: "arn:aws:iam::111122223333:root") == "111122223333")
        #expect(RootARN.account(of: "arn:aws-cn:iam::111122223333:root") == "111122223333")
        for other in [
            "arn::iam::111122223333:root", "arn:aws:sts::111122223333:root", "arn:aws:iam::11112222333:root",
            "arn:aws:iam::1111222233334:root",
            "arn:aws:iam::111122223333:user/root", "arn:aws:iam:x:111122223333:root",
            "arn:aws:iam::111122223333:x:root", "xarn:aws:iam::111122223333:root",
            "arn:aws:iam::11112222333a:root", "arn:aws:iam::111122223333:roots", "",
        ] {
            #expect(RootARN.account(of: other) == nil, "\(other)")
        }
        #expect(RootARN.partition(of: "arn:aws-us-gov:kms:x") == "aws-us-gov")
        #expect(RootARN.partition(of: "arn::iam") == "aws")
        #expect(RootARN.partition(of: "not an arn") == "aws")
    }
}
