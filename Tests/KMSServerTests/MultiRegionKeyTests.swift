import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Logging
import PostgresNIO
import Testing

/// Issue 23, multi-Region keys within one deployment: CreateKey MultiRegion, ReplicateKey and
/// UpdatePrimaryRegion through both protocols, ciphertexts and MACs across related keys,
/// rotation driven by the primary, and the deletion and state rules, as AWS KMS has them.
@Suite struct MultiRegionKeyTests {
    typealias World = MultiRegionWorld
    static let logger = Logger(label: "multi-region-tests")

    @Test func aReplicaSharesTheIdAndEveryMaterialVersionOfItsPrimary() async throws {
        let world = try await World.start()
        let primary = try await world.createKey()
        #expect(primary.keyID.wholeMatch(of: /mrk-[0-9a-f]{32}/) != nil, "\(primary.keyID)")
        #expect(primary.multiRegion)
        #expect(primary.multiRegionConfiguration.multiRegionKeyType == .primary)
        #expect(primary.multiRegionConfiguration.primaryKey.region == World.primaryRegion)
        #expect(primary.multiRegionConfiguration.primaryKey.arn == primary.arn)
        #expect(primary.multiRegionConfiguration.replicaKeys.isEmpty)
        let listed = try await world.stack.client.call(KMSMethod.listKeys, KMSListKeysRequest()).keys
        #expect(listed.contains { $0.keyID == primary.keyID && $0.keyArn == primary.arn })

        // Ciphertexts of two material versions, made before the replica exists.
        let before = try await world.stack.client.encrypt(primary.keyID, [1], context: ["v": "1"])
        var rotate = KMSRotateKeyOnDemandRequest()
        rotate.keyID = primary.keyID
        _ = try await world.stack.client.call(KMSMethod.rotateKeyOnDemand, rotate)
        let rotated = try await world.stack.client.encrypt(primary.keyID, [2])

        let replicated = try await world.replicate(primary.keyID, to: World.replicaRegion, tags: ["team": "eu"])
        let replica = replicated.replicaKeyMetadata
        let replicaARN = primary.arn.replacingOccurrences(
            of: ":\(World.primaryRegion):", with: ":\(World.replicaRegion):")
        #expect(replica.keyID == primary.keyID && replica.arn == replicaARN)
        #expect(replica.keyState == .enabled && replica.description_p == "replica in \(World.replicaRegion)")
        #expect(replica.multiRegionConfiguration.multiRegionKeyType == .replica)
        #expect(replica.multiRegionConfiguration.primaryKey.arn == primary.arn)
        #expect(replica.multiRegionConfiguration.replicaKeys.map(\.region) == [World.replicaRegion])
        #expect(replicated.replicaTags.map(\.tagKey) == ["team"] && replicated.replicaPolicy.contains("kms:*"))
        let described = try await world.stack.client.describe(primary.keyID)
        #expect(described.multiRegionConfiguration.replicaKeys.map(\.arn) == [replicaARN])

        // In the replica's region, by id or ARN: both versions decrypt, and what it encrypts
        // decrypts in the primary's region.
        let eu = world.admin(in: World.replicaRegion)
        let first = try await world.call(
            eu, "Decrypt",
            ["CiphertextBlob": before.base64EncodedString(), "EncryptionContext": ["v": "1"], "KeyId": replicaARN])
        #expect(first.object?["Plaintext"] as? String == Data([1]).base64EncodedString())
        #expect(first.object?["KeyId"] as? String == replicaARN)
        let second = try await world.call(eu, "Decrypt", ["CiphertextBlob": rotated.base64EncodedString()])
        #expect(second.object?["Plaintext"] as? String == Data([2]).base64EncodedString())
        let fromEU = try #require(
            try await world.call(eu, "Encrypt", ["KeyId": primary.keyID, "Plaintext": Data([3]).base64EncodedString()])
                .object?["CiphertextBlob"] as? String)
        let back = try await world.stack.client.decrypt(try #require(Data(base64Encoded: fromEU)))
        #expect(back.plaintext == Data([3]) && back.keyID == primary.arn)
        // The replica's own tags and description; the primary keeps its own.
        let tags = try await world.call(eu, "ListResourceTags", ["KeyId": primary.keyID]).object?["Tags"] as? [Any]
        #expect(tags?.count == 1)
        #expect(try await world.stack.client.describe(primary.keyID).description_p == "")
        // The replica region's DescribeKey shows the replica.
        let euDescribed = try await world.call(eu, "DescribeKey", ["KeyId": primary.keyID]).object
        let euMetadata = euDescribed?["KeyMetadata"] as? [String: Any]
        #expect(euMetadata?["Arn"] as? String == replicaARN && euMetadata?["MultiRegion"] as? Bool == true)
        let configuration = euMetadata?["MultiRegionConfiguration"] as? [String: Any]
        #expect(configuration?["MultiRegionKeyType"] as? String == "REPLICA")
        await world.stop()
    }

    @Test func asymmetricAndHMACReplicasVerifyWhatTheirPrimarySigned() async throws {
        let world = try await World.start()
        let eu = world.admin(in: World.replicaRegion)
        let signing = try await world.createKey(spec: "ECC_NIST_P256", usage: "SIGN_VERIFY")
        _ = try await world.replicate(signing.keyID, to: World.replicaRegion)
        var sign = KMSSignRequest()
        sign.keyID = signing.keyID
        sign.message = Data("release".utf8)
        sign.signingAlgorithm = .ecdsaSha256
        let signature = try await world.stack.client.call(KMSMethod.sign, sign).signature
        let verified = try await world.call(
            eu, "Verify",
            [
                "KeyId": signing.keyID, "Message": Data("release".utf8).base64EncodedString(),
                "Signature": signature.base64EncodedString(), "SigningAlgorithm": "ECDSA_SHA_256",
            ])
        #expect(verified.object?["SignatureValid"] as? Bool == true)
        let publicKeys = try await (
            world.call(eu, "GetPublicKey", ["KeyId": signing.keyID]).object?["PublicKey"] as? String,
            world.stack.client.call(KMSMethod.getPublicKey, .with { $0.keyID = signing.keyID }).publicKey
        )
        #expect(publicKeys.0 == publicKeys.1.base64EncodedString())

        let hmac = try await world.createKey(spec: "HMAC_256", usage: "GENERATE_VERIFY_MAC")
        _ = try await world.replicate(hmac.keyID, to: World.replicaRegion)
        let mac = try #require(
            try await world.call(
                eu, "GenerateMac",
                ["KeyId": hmac.keyID, "Message": Data("m".utf8).base64EncodedString(), "MacAlgorithm": "HMAC_SHA_256"]
            ).object?["Mac"] as? String)
        var verify = KMSVerifyMacRequest()
        verify.keyID = hmac.keyID
        verify.message = Data("m".utf8)
        verify.macAlgorithm = .hmacSha256
        verify.mac = try #require(Data(base64Encoded: mac))
        #expect(try await world.stack.client.call(KMSMethod.verifyMac, verify).macValid)
        await world.stop()
    }

    @Test func rotationIsThePrimarysAndReplicasRefuseIt() async throws {
        let world = try await World.start()
        let eu = world.admin(in: World.replicaRegion)
        let key = try await world.createKey()
        _ = try await world.replicate(key.keyID, to: World.replicaRegion)
        for operation in ["EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand"] {
            #expect(try await world.call(eu, operation, ["KeyId": key.keyID]).code == "UnsupportedOperationException")
        }
        var enable = KMSEnableKeyRotationRequest()
        enable.keyID = key.keyID
        enable.rotationPeriodInDays = 180
        _ = try await world.stack.client.call(KMSMethod.enableKeyRotation, enable)
        let status = try await world.call(eu, "GetKeyRotationStatus", ["KeyId": key.keyID]).object
        #expect(status?["KeyRotationEnabled"] as? Bool == true && status?["RotationPeriodInDays"] as? Int == 180)

        // An on-demand rotation of the primary is every replica's: the replica encrypts with the
        // new material, which the primary decrypts, and lists the rotation.
        _ = try await world.stack.client.call(KMSMethod.rotateKeyOnDemand, .with { $0.keyID = key.keyID })
        let current = try await world.stack.client.describe(key.keyID).currentKeyMaterialID
        let euMetadata = try await world.call(eu, "DescribeKey", ["KeyId": key.keyID]).object?["KeyMetadata"]
        #expect((euMetadata as? [String: Any])?["CurrentKeyMaterialId"] as? String == current)
        let rotations = try await world.call(eu, "ListKeyRotations", ["KeyId": key.keyID]).object?["Rotations"]
        #expect((rotations as? [Any])?.count == 1)
        await world.stop()
    }

    @Test func updatePrimaryRegionSwapsTheRoles() async throws {
        let world = try await World.start()
        let eu = world.admin(in: World.replicaRegion)
        let key = try await world.createKey()
        _ = try await world.replicate(key.keyID, to: World.replicaRegion)
        var enable = KMSEnableKeyRotationRequest()
        enable.keyID = key.keyID
        _ = try await world.stack.client.call(KMSMethod.enableKeyRotation, enable)

        // Only to a region that holds a replica, only from the primary.
        #expect(
            await code { try await world.updatePrimaryRegion(key.keyID, to: World.otherRegion) } == "NotFoundException")
        #expect(await code { try await world.updatePrimaryRegion(key.keyID, to: "nowhere") } == "ValidationException")
        #expect(
            try await world.call(eu, "UpdatePrimaryRegion", ["KeyId": key.keyID, "PrimaryRegion": World.primaryRegion])
                .code == "UnsupportedOperationException")
        try await world.updatePrimaryRegion(key.keyID, to: World.replicaRegion)

        let old = try await world.stack.client.describe(key.keyID)
        #expect(old.multiRegionConfiguration.multiRegionKeyType == .replica)
        #expect(old.multiRegionConfiguration.primaryKey.region == World.replicaRegion)
        let new = try await world.call(eu, "DescribeKey", ["KeyId": key.keyID]).object?["KeyMetadata"]
        let configuration = (new as? [String: Any])?["MultiRegionConfiguration"] as? [String: Any]
        #expect(configuration?["MultiRegionKeyType"] as? String == "PRIMARY")
        // The rotation schedule moved with the role; the old primary now refuses rotation and
        // replication, and the new one replicates.
        let status = try await world.call(eu, "GetKeyRotationStatus", ["KeyId": key.keyID]).object
        #expect(status?["KeyRotationEnabled"] as? Bool == true)
        #expect(
            await code { _ = try await world.replicate(key.keyID, to: World.otherRegion) }
                == "UnsupportedOperationException")
        let third = try await world.call(eu, "ReplicateKey", ["KeyId": key.keyID, "ReplicaRegion": World.otherRegion])
        #expect(third.code == nil, "\(third)")
        // The aws CLI's form of the same call works over the binary protocol too: back again.
        let back = try await world.call(
            eu, "UpdatePrimaryRegion", ["KeyId": key.keyID, "PrimaryRegion": World.primaryRegion])
        #expect(back.code == nil)
        #expect(
            try await world.stack.client.describe(key.keyID).multiRegionConfiguration.multiRegionKeyType == .primary)
        await world.stop()
    }

    @Test func everyErrorOfTheStateRules() async throws {
        let world = try await World.start(["--reaper-interval-seconds", "1"])
        let eu = world.admin(in: World.replicaRegion)
        let client = world.stack.client
        // Not a single-Region key (imported material: MultiRegionImportedMaterialTests).
        let single = try await client.createKey()
        #expect(
            await code { _ = try await world.replicate(single.keyID, to: World.replicaRegion) }
                == "UnsupportedOperationException")
        #expect(
            await code {
                _ = try await world.replicate("mrk-" + String(repeating: "0", count: 32), to: World.replicaRegion)
            } == "NotFoundException")
        #expect(
            await code { _ = try await world.replicate("arn:aws:kms:us-east-1:1:key/x", to: World.replicaRegion) }
                == "InvalidArnException")

        let key = try await world.createKey()
        #expect(await code { _ = try await world.replicate(key.keyID, to: "Not_A_Region") } == "ValidationException")
        #expect(
            await code { _ = try await world.replicate(key.keyID, to: "us-west-9") } == "UnsupportedOperationException")
        #expect(
            await code { _ = try await world.replicate(key.keyID, to: World.primaryRegion) } == "AlreadyExistsException"
        )
        var badPolicy = KMSReplicateKeyRequest()
        badPolicy.keyID = key.keyID
        badPolicy.replicaRegion = World.replicaRegion
        badPolicy.policy = "{"
        #expect(
            await code { _ = try await client.call(KMSMethod.replicateKey, badPolicy) }
                == "MalformedPolicyDocumentException")
        try await client.setEnabled(key.keyID, false)
        #expect(await code { _ = try await world.replicate(key.keyID, to: World.replicaRegion) } == "DisabledException")
        try await client.setEnabled(key.keyID, true)
        _ = try await world.replicate(key.keyID, to: World.replicaRegion)
        #expect(
            await code { _ = try await world.replicate(key.keyID, to: World.replicaRegion) } == "AlreadyExistsException"
        )
        // The replica of the region answers for itself: replicating it is refused.
        #expect(
            try await world.call(eu, "ReplicateKey", ["KeyId": key.keyID, "ReplicaRegion": World.otherRegion]).code
                == "UnsupportedOperationException")
        // Its state is its own.
        #expect(try await world.call(eu, "DisableKey", ["KeyId": key.keyID]).code == nil)
        #expect(try await client.describe(key.keyID).keyState == .enabled)
        #expect(
            try await world.call(eu, "Encrypt", ["KeyId": key.keyID, "Plaintext": "AA=="]).code == "DisabledException")
        #expect(try await world.call(eu, "EnableKey", ["KeyId": key.keyID]).code == nil)

        // A primary with replicas waits for them: PendingReplicaDeletion, no deletion date.
        var schedule = KMSScheduleKeyDeletionRequest()
        schedule.keyID = key.keyID
        schedule.pendingWindowInDays = 7
        let scheduled = try await client.call(KMSMethod.scheduleKeyDeletion, schedule)
        #expect(scheduled.keyState == .pendingReplicaDeletion && !scheduled.hasDeletionDate)
        #expect(scheduled.pendingWindowInDays == 7)
        #expect(try await client.describe(key.keyID).keyState == .pendingReplicaDeletion)
        #expect(await code { _ = try await client.encrypt(key.keyID, [1]) } == "KMSInvalidStateException")
        #expect(
            await code { _ = try await world.replicate(key.keyID, to: World.otherRegion) } == "KMSInvalidStateException"
        )
        #expect(
            await code { try await world.updatePrimaryRegion(key.keyID, to: World.replicaRegion) }
                == "KMSInvalidStateException")
        // Cancelled, it is Disabled, as every cancelled deletion.
        _ = try await client.call(KMSMethod.cancelKeyDeletion, .with { $0.keyID = key.keyID })
        #expect(try await client.describe(key.keyID).keyState == .disabled)
        _ = try await client.call(KMSMethod.scheduleKeyDeletion, schedule)

        // Deleting a replica is ordinary: PendingDeletion with its date; while it is, the
        // primary role cannot move to it.
        let replicaDeletion = try await world.call(
            eu, "ScheduleKeyDeletion", ["KeyId": key.keyID, "PendingWindowInDays": 7])
        #expect(replicaDeletion.object?["KeyState"] as? String == "PendingDeletion")
        #expect(replicaDeletion.object?["DeletionDate"] != nil)
        // Once the replica is gone (its window passed: the reaper deletes the row), the
        // primary's own window starts.
        let replicaRow = try #require(
            UUID(uuidString: try await Self.rowID(world, region: World.replicaRegion, arnSuffix: key.keyID)))
        try await world.stack.database.withClient { client in
            _ = try await client.query(
                "UPDATE kms_keys SET deletion_date = now() - interval '1 day' WHERE key_id = \(replicaRow)",
                logger: Self.logger)
        }
        var state = KMSKeyState.pendingReplicaDeletion
        for _ in 0..<40 where state != .pendingDeletion {
            try await Task.sleep(for: .milliseconds(250))
            state = try await client.describe(key.keyID).keyState
        }
        #expect(state == .pendingDeletion)
        let deleted = try await client.describe(key.keyID)
        #expect(deleted.hasDeletionDate && deleted.multiRegionConfiguration.replicaKeys.isEmpty)
        #expect(try await world.call(eu, "DescribeKey", ["KeyId": key.keyID]).code == "NotFoundException")
        await world.stop()
    }

    /// A replica the reaper deletes leaves the family: every kmsd's cached copy of the others
    /// (which show it) is dropped by the change the deletion makes to their rows.
    @Test func aDeletedReplicaLeavesItsFamily() async throws {
        let world = try await World.start(["--reaper-interval-seconds", "1"])
        let key = try await world.createKey()
        _ = try await world.replicate(key.keyID, to: World.replicaRegion)
        _ = try await world.replicate(key.keyID, to: World.otherRegion)
        let regions = try await world.stack.client.describe(key.keyID).multiRegionConfiguration.replicaKeys.map(
            \.region)
        #expect(regions == [World.otherRegion, World.replicaRegion])
        let deletion = try await world.call(
            world.admin(in: World.otherRegion), "ScheduleKeyDeletion", ["KeyId": key.keyID, "PendingWindowInDays": 7])
        #expect(deletion.code == nil)
        let row = try #require(
            UUID(uuidString: try await Self.rowID(world, region: World.otherRegion, arnSuffix: key.keyID)))
        try await world.stack.database.withClient { client in
            _ = try await client.query(
                "UPDATE kms_keys SET deletion_date = now() - interval '1 day' WHERE key_id = \(row)",
                logger: Self.logger)
        }
        var left: [String] = []
        for _ in 0..<40 where left != [World.replicaRegion] {
            try await Task.sleep(for: .milliseconds(250))
            left = try await world.stack.client.describe(key.keyID).multiRegionConfiguration.replicaKeys.map(\.region)
        }
        #expect(left == [World.replicaRegion])
        #expect(try await world.stack.client.describe(key.keyID).keyState == .enabled)
        await world.stop()
    }

    /// Each related key's copy of the material is re-wrapped under a new root key on its own,
    /// bound to the region-less key ARN all of them share; a worker without the old root key
    /// (and with nothing cached) decrypts in both regions.
    @Test func aRootKeyRewrapKeepsEveryRelatedKeyUsable() async throws {
        let world = try await World.start(["--rewrap-interval-seconds", "1"])
        let kms = world.stack.client
        let key = try await world.createKey()
        _ = try await world.replicate(key.keyID, to: World.replicaRegion)
        let blob = try await kms.encrypt(key.keyID, [7])
        let before = try await RootKeyRotationTests.status(kms)
        let oldRoot = try #require(before.rootKeys.first { $0.newest })
        #expect(oldRoot.keyMaterials == 2)
        let keyring = world.stack.worker.keyringPath
        #expect(try await WorkerProcess.run(["rotate-root-key", "--root-key-file", keyring]).status == 0)
        world.stack.worker.signal(SIGHUP)
        var rotated = false
        for _ in 0..<50 where !rotated {
            rotated = try await RootKeyRotationTests.status(kms).rootKeys.contains {
                $0.newest && $0.rootKeyID != oldRoot.rootKeyID
            }
            if !rotated { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(rotated)
        _ = try await kms.call(AdminMethod.startRewrap, AdminStartRewrapRequest())
        var finished: AdminGetRewrapStatusResponse?
        for _ in 0..<100 where finished == nil {
            let status = try await RootKeyRotationTests.status(kms)
            if status.state == "Finished" { finished = status } else { try await Task.sleep(for: .milliseconds(100)) }
        }
        let done = try #require(finished)
        #expect(done.unavailable == 0)
        #expect(done.rootKeys.first { $0.rootKeyID == oldRoot.rootKeyID }.map(\.keyMaterials) == 0)
        #expect(
            try await WorkerProcess.run([
                "retire-root-key", "--root-key-file", keyring, "--root-key-id", oldRoot.rootKeyID,
            ]).status == 0)
        await world.stack.worker.stop()
        try await world.stack.worker.start(extraArguments: ["--regions", World.regions])
        let client = try world.stack.kmsd.client(credentials: world.stack.adminCredentials)
        #expect(try await client.decrypt(blob).plaintext == Data([7]))
        let eu = try await world.call(
            world.admin(in: World.replicaRegion), "Decrypt", ["CiphertextBlob": blob.base64EncodedString()])
        #expect(eu.object?["Plaintext"] as? String == Data([7]).base64EncodedString(), "\(eu)")
        await client.close()
        await world.stop()
    }

    static func rowID(_ world: World, region: String, arnSuffix: String) async throws -> String {
        try await world.stack.database.withClient { client in
            let rows = try await client.query(
                "SELECT key_id::text FROM kms_keys WHERE region = \(region) AND arn LIKE \("%:key/" + arnSuffix)",
                logger: Self.logger)
            for try await id in rows.decode(String.self) { return id }
            return ""
        }
    }
}
