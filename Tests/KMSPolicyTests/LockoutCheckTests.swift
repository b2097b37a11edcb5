import KMSDomain
import Testing

@testable import KMSPolicy

@Suite struct LockoutCheckTests {
    static let account = "111122223333"
    static let keyARN = "arn:aws:kms:us-east-1:111122223333:key/k"
    static let alice = "arn:aws:iam::111122223333:user/alice"

    /// The check read the new policy with only three condition keys, so a policy allowing the
    /// administrator over TLS from the office network was refused as a lockout. Given the
    /// request's context, it reads such conditions as they are.
    @Test func theCheckReadsTheRequestsConditions() throws {
        let policy = try PolicyDocument.parse(
            """
            {"Statement": {"Effect": "Allow", "Principal": {"AWS": "\(Self.alice)"}, "Action": "kms:*", "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "true", "kms:BypassPolicyLockoutSafetyCheck": "false"},
                           "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}}
            """, kind: .resource)
        var context = RequestContext(principalARN: Self.alice, action: "kms:PutKeyPolicy", resource: Self.keyARN)
        context.set("aws:SecureTransport", true)
        context.set("aws:SourceIp", "10.1.2.3")
        #expect(
            KeyAccess.keepsPolicyAdministrable(
                policy, context: context, principalAccount: Self.account, keyAccount: Self.account, keyARN: Self.keyARN,
                identityPolicies: []))
        context.set("aws:SourceIp", "192.0.2.1")
        #expect(
            !KeyAccess.keepsPolicyAdministrable(
                policy, context: context, principalAccount: Self.account, keyAccount: Self.account, keyARN: Self.keyARN,
                identityPolicies: []))
        // The context's own action and resource do not matter: the check is about PutKeyPolicy on this key.
        var other = RequestContext(principalARN: Self.alice, action: "kms:CreateKey", resource: "*")
        other.set("aws:SecureTransport", true)
        other.set("aws:SourceIp", "10.1.2.3")
        let onlyThisKey = try PolicyDocument.parse(
            """
            {"Statement": {"Effect": "Allow", "Principal": {"AWS": "\(Self.alice)"}, "Action": "kms:PutKeyPolicy", \
            "Resource": "\(Self.keyARN)"}}
            """, kind: .resource)
        #expect(
            KeyAccess.keepsPolicyAdministrable(
                onlyThisKey, context: other, principalAccount: Self.account, keyAccount: Self.account,
                keyARN: Self.keyARN, identityPolicies: []))
    }
}
