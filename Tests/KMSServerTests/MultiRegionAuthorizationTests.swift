import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// ReplicateKey and UpdatePrimaryRegion as AWS authorizes them, tried by those who should not
/// get past: kms:ReplicateKey on the primary, kms:CreateKey (and kms:TagResource for tags) in
/// the replica's region, both keys' policies for UpdatePrimaryRegion, never across accounts.
@Suite struct MultiRegionAuthorizationTests {
    typealias World = MultiRegionWorld
    static let policy = PrincipalPolicyTests.policy
    static let partnerAccount = "444455556666"

    /// A key policy that lets the account root delegate everything, and the partner account too.
    static let sharedPolicy = policy(
        """
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::\(partnerAccount):root"}, "Action": "kms:*", \
        "Resource": "*"}
        """)

    @Test func replicateKeyNeedsCreateKeyInTheReplicaRegionAndNeverCrossesAccounts() async throws {
        let world = try await World.start()
        let key = try await world.createKey(policy: Self.sharedPolicy)

        // Another account, with every permission its own policies and the key policy can give.
        let (_, partner) = try await world.stack.principal(
            "partner", account: Self.partnerAccount,
            policies: ["all": Self.policy(#"{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}"#)])
        #expect(
            await code { _ = try await world.replicate(key.arn, to: World.replicaRegion, client: partner) }
                == "AccessDeniedException")
        #expect(
            await code { try await world.updatePrimaryRegion(key.arn, to: World.replicaRegion, client: partner) }
                == "AccessDeniedException")

        // kms:ReplicateKey, but kms:CreateKey only in the primary's region.
        let (_, regional) = try await world.stack.principal(
            "regional",
            policies: [
                "p": Self.policy(
                    """
                    {"Effect": "Allow", "Action": ["kms:ReplicateKey", "kms:DescribeKey"], "Resource": "*"},
                    {"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*", \
                    "Condition": {"StringEquals": {"aws:RequestedRegion": "\(World.primaryRegion)"}}}
                    """)
            ])
        #expect(
            await code { _ = try await world.replicate(key.keyID, to: World.replicaRegion, client: regional) }
                == "AccessDeniedException")

        // A denied principal: everything allowed but ReplicateKey, explicitly denied.
        let (_, denied) = try await world.stack.principal(
            "denied",
            policies: [
                "p": Self.policy(
                    """
                    {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "kms:ReplicateKey", "Resource": "*"}
                    """)
            ])
        #expect(
            await code { _ = try await world.replicate(key.keyID, to: World.replicaRegion, client: denied) }
                == "AccessDeniedException")

        // ReplicateKey and CreateKey anywhere, but no TagResource: tags are refused, no tags pass.
        let (_, untagged) = try await world.stack.principal(
            "untagged",
            policies: [
                "p": Self.policy(
                    #"{"Effect": "Allow", "Action": ["kms:ReplicateKey", "kms:CreateKey"], "Resource": "*"}"#)
            ])
        #expect(
            await code {
                _ = try await world.replicate(key.keyID, to: World.replicaRegion, tags: ["a": "b"], client: untagged)
            } == "AccessDeniedException")
        #expect(try await world.stack.client.describe(key.keyID).multiRegionConfiguration.replicaKeys.isEmpty)
        let replica = try await world.replicate(key.keyID, to: World.replicaRegion, client: untagged)
        #expect(replica.replicaKeyMetadata.multiRegionConfiguration.multiRegionKeyType == .replica)
        // A replica policy that would lock the caller out is refused unless bypassed.
        let lockout = Self.policy(
            """
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:Decrypt", \
            "Resource": "*"}
            """)
        #expect(
            await code { _ = try await world.replicate(key.keyID, to: World.otherRegion, policy: lockout) }
                == "MalformedPolicyDocumentException")
        await world.stop()
    }

    /// kms:MultiRegion and kms:MultiRegionKeyType, as AWS sets them for CreateKey and for every
    /// request on a key.
    @Test func theMultiRegionConditionKeys() async throws {
        let world = try await World.start()
        let (_, singleOnly) = try await world.stack.principal(
            "single-only",
            policies: [
                "p": Self.policy(
                    """
                    {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                    {"Effect": "Deny", "Action": ["kms:CreateKey", "kms:Encrypt"], "Resource": "*", \
                    "Condition": {"Bool": {"kms:MultiRegion": "true"}}},
                    {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*", \
                    "Condition": {"StringEquals": {"kms:MultiRegionKeyType": "PRIMARY"}}}
                    """)
            ])
        #expect(await code { _ = try await world.createKey(client: singleOnly) } == "AccessDeniedException")
        let single = try await singleOnly.createKey()
        let blob = try await singleOnly.encrypt(single.keyID, [1])
        #expect(try await singleOnly.decrypt(blob).plaintext == Data([1]))
        let key = try await world.createKey()
        #expect(await code { _ = try await singleOnly.encrypt(key.keyID, [1]) } == "AccessDeniedException")
        let multi = try await world.stack.client.encrypt(key.keyID, [2])
        #expect(await code { _ = try await singleOnly.decrypt(multi) } == "AccessDeniedException")
        await world.stop()
    }

    @Test func updatePrimaryRegionNeedsBothKeyPolicies() async throws {
        let world = try await World.start()
        let (operatorARN, operatorClient) = try await world.stack.principal("operator")
        let keyPolicy = Self.policy(
            """
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", \
            "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "\(operatorARN)"}, "Action": "kms:UpdatePrimaryRegion", \
            "Resource": "*"}
            """)
        let key = try await world.createKey(policy: keyPolicy)
        // The replica's policy does not name the operator.
        _ = try await world.replicate(key.keyID, to: World.replicaRegion)
        #expect(
            await code {
                try await world.updatePrimaryRegion(key.keyID, to: World.replicaRegion, client: operatorClient)
            }
                == "AccessDeniedException")
        #expect(
            try await world.stack.client.describe(key.keyID).multiRegionConfiguration.multiRegionKeyType == .primary)
        // With the replica's policy naming the operator too, it passes.
        let eu = world.admin(in: World.replicaRegion)
        #expect(
            try await world.call(
                eu, "PutKeyPolicy", ["KeyId": key.keyID, "PolicyName": "default", "Policy": keyPolicy]
            ).code == nil)
        try await world.updatePrimaryRegion(key.keyID, to: World.replicaRegion, client: operatorClient)
        #expect(
            try await world.stack.client.describe(key.keyID).multiRegionConfiguration.multiRegionKeyType == .replica)
        await world.stop()
    }
}
