import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import PostgresNIO
import Testing

/// Key rotation end to end: on demand, by the scheduler, and on re-enabling a key past its
/// date; every generation's ciphertext keeps decrypting.
@Suite struct KeyRotationTests {
    /// Moves a key's next automatic rotation into the past: the scheduler's test clock.
    static func makeDue(_ stack: KMSStack, _ keyID: String) async throws {
        try await stack.database.withClient { client in
            try await client.query(
                """
                UPDATE kms_keys SET next_rotation_date = now() - interval '1 day'
                    WHERE key_id = \(UUID(uuidString: keyID)!)
                """,
                logger: Logger(label: "test")
            )
        }
    }

    static func rotations(_ kms: KMSClient, _ keyID: String) async throws -> [KMSRotationsListEntry] {
        var request = KMSListKeyRotationsRequest()
        request.keyID = keyID
        return try await kms.call(KMSMethod.listKeyRotations, request).rotations
    }

    static func waitFor(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test func threeWaysToRotateAndEveryGenerationDecrypts() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--rotation-interval-seconds", "1"])
        let kms = stack.client
        let key = try await kms.createKey("rotating")
        var blobs = [try await kms.encrypt(key.keyID, [0])]
        var materials = [key.currentKeyMaterialID]

        // 1. On demand.
        var onDemand = KMSRotateKeyOnDemandRequest()
        onDemand.keyID = key.keyID
        #expect(try await kms.call(KMSMethod.rotateKeyOnDemand, onDemand).keyID == key.arn)
        materials.append(try await kms.describe(key.keyID).currentKeyMaterialID)
        blobs.append(try await kms.encrypt(key.keyID, [1]))

        // 2. By the scheduler, once due.
        var enable = KMSEnableKeyRotationRequest()
        enable.keyID = key.keyID
        enable.rotationPeriodInDays = 90
        _ = try await kms.call(KMSMethod.enableKeyRotation, enable)
        var status = KMSGetKeyRotationStatusRequest()
        status.keyID = key.keyID
        let enabled = try await kms.call(KMSMethod.getKeyRotationStatus, status)
        #expect(enabled.keyRotationEnabled && enabled.rotationPeriodInDays == 90)
        let inNinetyDays = Date().addingTimeInterval(90 * 86400).timeIntervalSince1970
        #expect(abs(enabled.nextRotationDate.date.timeIntervalSince1970 - inNinetyDays) < 120)
        try await Self.makeDue(stack, key.keyID)
        #expect(try await Self.waitFor { try await Self.rotations(kms, key.keyID).count == 2 })
        materials.append(try await kms.describe(key.keyID).currentKeyMaterialID)
        blobs.append(try await kms.encrypt(key.keyID, [2]))
        let rescheduled = try await kms.call(KMSMethod.getKeyRotationStatus, status)
        #expect(rescheduled.nextRotationDate.date > Date().addingTimeInterval(89 * 86400))

        // 3. A disabled key is never rotated; re-enabled past its date, it rotates at once.
        try await kms.setEnabled(key.keyID, false)
        try await Self.makeDue(stack, key.keyID)
        try await Task.sleep(for: .seconds(2))
        #expect(try await Self.rotations(kms, key.keyID).count == 2)
        try await kms.setEnabled(key.keyID, true)
        #expect(try await Self.waitFor { try await Self.rotations(kms, key.keyID).count == 3 })
        materials.append(try await kms.describe(key.keyID).currentKeyMaterialID)
        blobs.append(try await kms.encrypt(key.keyID, [3]))

        #expect(Set(materials).count == 4)
        let listed = try await Self.rotations(kms, key.keyID)
        #expect(listed.map(\.rotationType) == [.onDemand, .automatic, .automatic])
        #expect(listed.map(\.keyMaterialID) == Array(materials.dropFirst()))
        for (index, blob) in blobs.enumerated() {
            #expect(try await kms.decrypt(blob).plaintext == Data([UInt8(index)]))
        }
        // Disabling rotation stops the schedule.
        var disable = KMSDisableKeyRotationRequest()
        disable.keyID = key.keyID
        _ = try await kms.call(KMSMethod.disableKeyRotation, disable)
        let off = try await kms.call(KMSMethod.getKeyRotationStatus, status)
        #expect(!off.keyRotationEnabled && !off.hasNextRotationDate)
        await stack.stop()
    }

    @Test func limitsAndWhatCannotRotate() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await kms.createKey()
        var onDemand = KMSRotateKeyOnDemandRequest()
        onDemand.keyID = key.keyID
        for _ in 0..<25 { _ = try await kms.call(KMSMethod.rotateKeyOnDemand, onDemand) }
        #expect(
            await code { _ = try await kms.call(KMSMethod.rotateKeyOnDemand, onDemand) } == "LimitExceededException")

        var enable = KMSEnableKeyRotationRequest()
        enable.keyID = key.keyID
        enable.rotationPeriodInDays = 89
        #expect(await code { _ = try await kms.call(KMSMethod.enableKeyRotation, enable) } == "ValidationException")
        enable.rotationPeriodInDays = 2561
        #expect(await code { _ = try await kms.call(KMSMethod.enableKeyRotation, enable) } == "ValidationException")

        // AWS managed keys rotate yearly, unchangeably.
        _ = try await kms.describe("alias/aws/ebs")
        var status = KMSGetKeyRotationStatusRequest()
        status.keyID = try await kms.describe("alias/aws/ebs").keyID
        let managed = try await kms.call(KMSMethod.getKeyRotationStatus, status)
        #expect(managed.keyRotationEnabled && managed.rotationPeriodInDays == 365)
        enable.keyID = status.keyID
        enable.rotationPeriodInDays = 90
        // Its policy (AWS's) allows nobody to change it, so authorization refuses first.
        #expect(await code { _ = try await kms.call(KMSMethod.enableKeyRotation, enable) } == "AccessDeniedException")

        // A disabled key cannot be rotated on demand.
        try await kms.setEnabled(key.keyID, false)
        #expect(await code { _ = try await kms.call(KMSMethod.rotateKeyOnDemand, onDemand) } == "DisabledException")
        await stack.stop()
    }
}

/// Tags on keys, and attribute-based access control with them.
@Suite struct TagTests {
    static func tag(_ key: String, _ value: String) -> KMSTag {
        var tag = KMSTag()
        tag.tagKey = key
        tag.tagValue = value
        return tag
    }

    @Test func tagsAreValidatedListedAndDecideAccess() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        var create = KMSCreateKeyRequest()
        create.tags = [Self.tag("team", "payments"), Self.tag("env", "prod")]
        let tagged = try await kms.call(KMSMethod.createKey, create).keyMetadata
        let untagged = try await kms.createKey()

        var list = KMSListResourceTagsRequest()
        list.keyID = tagged.keyID
        #expect(try await kms.call(KMSMethod.listResourceTags, list).tags.map(\.tagKey) == ["env", "team"])
        var add = KMSTagResourceRequest()
        add.keyID = tagged.keyID
        add.tags = [Self.tag("env", "staging"), Self.tag("owner", "")]
        _ = try await kms.call(KMSMethod.tagResource, add)
        let now = try await kms.call(KMSMethod.listResourceTags, list).tags
        #expect(now.map { "\($0.tagKey)=\($0.tagValue)" } == ["env=staging", "owner=", "team=payments"])

        add.tags = [Self.tag("aws:reserved", "x")]
        #expect(await code { _ = try await kms.call(KMSMethod.tagResource, add) } == "TagException")
        // Lengths are the model's constraints: ValidationException, as AWS answers them (issue 20).
        add.tags = [Self.tag(String(repeating: "k", count: 129), "x")]
        #expect(await code { _ = try await kms.call(KMSMethod.tagResource, add) } == "ValidationException")
        add.tags = [Self.tag("k", String(repeating: "v", count: 257))]
        #expect(await code { _ = try await kms.call(KMSMethod.tagResource, add) } == "ValidationException")
        add.tags = (0..<48).map { Self.tag("t\($0)", "v") }
        #expect(await code { _ = try await kms.call(KMSMethod.tagResource, add) } == "LimitExceededException")
        #expect(try await kms.call(KMSMethod.listResourceTags, list).tags.count == 3)  // nothing of the refused request

        // ABAC: the app may encrypt with keys of its team only.
        let (_, app) = try await stack.principal(
            "app",
            policies: [
                "team": """
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
                  "Condition": {"StringEquals": {"aws:ResourceTag/team": "payments"}}}]}
                """
            ])
        _ = try await app.encrypt(tagged.keyID, [1])
        #expect(await code { _ = try await app.encrypt(untagged.keyID, [1]) } == "AccessDeniedException")
        var remove = KMSUntagResourceRequest()
        remove.keyID = tagged.keyID
        remove.tagKeys = ["team"]
        _ = try await kms.call(KMSMethod.untagResource, remove)
        var denied: String?
        for _ in 0..<50 {
            denied = await code { _ = try await app.encrypt(tagged.keyID, [1]) }
            if denied != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(denied == "AccessDeniedException")
        await stack.stop()
    }
}

/// GetKeyLastUsage: the last successful cryptographic use, kept without a write per request.
@Suite struct KeyLastUsageTests {
    @Test func lastUseIsSeenAtOnceHereAndAfterAFlushElsewhere() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--last-use-flush-seconds", "1"])
        let other = try await stack.secondKMSD(arguments: ["--last-use-flush-seconds", "1"])
        let kmsB = try other.client(credentials: stack.adminCredentials)
        let kms = stack.client
        let key = try await kms.createKey()
        var request = KMSGetKeyLastUsageRequest()
        request.keyID = key.keyID
        let unused = try await kms.call(KMSMethod.getKeyLastUsage, request)
        #expect(!unused.hasKeyLastUsage)
        #expect(unused.keyID == key.arn)
        #expect(unused.trackingStartDate.date >= unused.keyCreationDate.date)

        let before = Date().addingTimeInterval(-1)
        let blob = try await kms.encrypt(key.keyID, [1])
        let here = try await kms.call(KMSMethod.getKeyLastUsage, request)
        #expect(here.keyLastUsage.operation == .encrypt)
        #expect(here.keyLastUsage.timestamp.date >= before)
        #expect(here.keyLastUsage.kmsRequestID.count == 36)
        // The same id as the request's audit record.
        var audit = AdminListAuditRecordsRequest()
        audit.keyArn = key.arn
        audit.operation = "Encrypt"
        let records = try await kms.call(AdminMethod.listAuditRecords, audit).records
        #expect(records.map(\.requestID) == [here.keyLastUsage.kmsRequestID])

        _ = try await kmsB.decrypt(blob)
        var seen: KMSKeyLastUsageTrackingOperation?
        for _ in 0..<50 {
            seen = try await kms.call(KMSMethod.getKeyLastUsage, request).keyLastUsage.operation
            if seen == .decrypt { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(seen == .decrypt)
        await other.stop()
        await stack.stop()
    }
}
