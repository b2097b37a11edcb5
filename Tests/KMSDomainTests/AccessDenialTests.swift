import KMSDomain
import Testing

/// Every AccessDeniedException message kmsd writes, byte for byte as before they were composed
/// in one place (clients and the authorization matrix compare them).
@Suite struct AccessDenialTests {
    static let user = "arn:aws:iam::111122223333:user/alice"
    static let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    static func message(_ action: String, _ resource: String?, _ reason: AccessDenial.Reason) -> String {
        AccessDenial(principal: Self.user, action: action, resource: resource, reason).description
    }

    @Test func eachReasonReadsAsAWSWritesIt() {
        let subject = "User: \(Self.user) is not authorized to perform: kms:Decrypt on resource: \(Self.key)"
        #expect(Self.message("kms:Decrypt", Self.key, .unstated) == subject)
        #expect(Self.message("kms:Decrypt", Self.key, .explicitDeny(in: nil)) == "\(subject) with an explicit deny")
        #expect(
            Self.message("kms:Decrypt", Self.key, .explicitDeny(in: .resourceBased))
                == "\(subject) with an explicit deny in a resource-based policy")
        #expect(
            Self.message("kms:Decrypt", Self.key, .explicitDeny(in: .identityBased))
                == "\(subject) with an explicit deny in an identity-based policy")
        #expect(
            Self.message("kms:Decrypt", Self.key, .noPolicyAllows(.resourceBased))
                == "\(subject) because no resource-based policy allows the kms:Decrypt action")
        #expect(
            Self.message("kms:Decrypt", Self.key, .noPolicyAllows(.identityBased))
                == "\(subject) because no identity-based policy allows the kms:Decrypt action")
        #expect(
            Self.message("kms:Decrypt", Self.key, .because("kms:Decrypt cannot be used on a key of another account"))
                == "\(subject) because kms:Decrypt cannot be used on a key of another account")
        #expect(
            Self.message("kms:Decrypt", Self.key, .detail("only principals of the key's account may be allowed it"))
                == "\(subject): only principals of the key's account may be allowed it")
    }

    @Test func aRefusalMayNameNoResource() {
        #expect(
            Self.message("kms:ListRetirableGrants", nil, .qualifier("for a retiring principal of another account"))
                == "User: \(Self.user) is not authorized to perform: kms:ListRetirableGrants for a retiring principal "
                + "of another account")
        #expect(
            Self.message("kms-admin:CreateAccount", nil, .because("it is not an admin principal"))
                == "User: \(Self.user) is not authorized to perform: kms-admin:CreateAccount because it is not an "
                + "admin principal")
        let listKeys = "User: \(Self.user) is not authorized to perform: kms:ListKeys on resource: *"
        #expect(
            KMSError.accessDenied(AccessDenial(principal: Self.user, action: "kms:ListKeys", resource: "*"))
                == KMSError(.accessDenied, listKeys))
    }
}
