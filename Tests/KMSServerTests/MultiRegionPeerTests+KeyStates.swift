import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import PostgresNIO
import Testing

/// What one deployment tells the other about its related keys (kms_mrk_peer_states), and the
/// audit record of a replica created from a peer region.
extension MultiRegionPeerTests {
    /// The replica's creation in B is recorded in B's audit log as KMS's own CreateKey.
    static func checkTheReplicaCreationIsAudited(_ peers: PeerDeployments, replicaARN: String) async throws {
        let record = try await peers.eventually("the replica's creation in B's audit log") {
            () async throws -> AdminAuditRecord? in
            var request = AdminListAuditRecordsRequest()
            request.keyArn = replicaARN
            request.operation = "CreateKey"
            request.limit = 10
            return try await peers.clients[1].call(AdminMethod.listAuditRecords, request).records.first
        }
        #expect(record.principalArn == "kms.amazonaws.com")
        #expect(record.keyArns == [replicaARN] && record.errorCode.isEmpty)
        #expect(record.transport == "peer-replication")
    }

    /// The primary's rotation schedule, told by A, in GetKeyRotationStatus of its replica in B.
    static func checkTheRotationScheduleReachesTheReplica(_ peers: PeerDeployments, keyID: String) async throws {
        let (a, b) = (peers.clients[0], peers.clients[1])
        var enable = KMSEnableKeyRotationRequest()
        enable.keyID = keyID
        enable.rotationPeriodInDays = 100
        _ = try await a.call(KMSMethod.enableKeyRotation, enable)
        var status = KMSGetKeyRotationStatusRequest()
        status.keyID = keyID
        let primary = try await a.call(KMSMethod.getKeyRotationStatus, status)
        #expect(primary.keyRotationEnabled && primary.rotationPeriodInDays == 100)
        let replica = try await peers.eventually("the primary's schedule in B") {
            () async throws -> KMSGetKeyRotationStatusResponse? in
            let answer = try await b.call(KMSMethod.getKeyRotationStatus, status)
            return answer.keyRotationEnabled ? answer : nil
        }
        #expect(replica.keyID.contains(":\(Peers.regionB):"))
        #expect(replica.rotationPeriodInDays == 100)
        #expect(replica.nextRotationDate == primary.nextRotationDate)

        var disable = KMSDisableKeyRotationRequest()
        disable.keyID = keyID
        _ = try await a.call(KMSMethod.disableKeyRotation, disable)
        _ = try await peers.eventually("rotation off in B") { () async throws -> Bool? in
            let answer = try await b.call(KMSMethod.getKeyRotationStatus, status)
            return answer.keyRotationEnabled || answer.hasNextRotationDate ? nil : true
        }
    }

    /// A replica in B pending deletion is still listed by its primary in A, which waits
    /// PendingReplicaDeletion; once B deletes the replica, A's DescribeKey no longer lists it and
    /// the primary's waiting period starts.
    static func checkADeletedReplicaIsGoneInThePrimarysDeployment(_ peers: PeerDeployments) async throws {
        let (a, b) = (peers.clients[0], peers.clients[1])
        var create = KMSCreateKeyRequest()
        create.multiRegion = true
        let key = try await a.call(KMSMethod.createKey, create).keyMetadata
        var replicate = KMSReplicateKeyRequest()
        replicate.keyID = key.keyID
        replicate.replicaRegion = Peers.regionB
        _ = try await a.call(KMSMethod.replicateKey, replicate)
        let replica = try await peers.eventually("the replica in B") { () async throws -> KMSKeyMetadata? in
            let metadata = try await b.describe(key.keyID)
            return metadata.keyState == .enabled ? metadata : nil
        }

        var schedule = KMSScheduleKeyDeletionRequest()
        schedule.keyID = key.keyID
        schedule.pendingWindowInDays = 7
        #expect(try await a.call(KMSMethod.scheduleKeyDeletion, schedule).keyState == .pendingReplicaDeletion)
        #expect(try await b.call(KMSMethod.scheduleKeyDeletion, schedule).keyState == .pendingDeletion)
        // Several reaper and replication rounds: the primary keeps waiting for its replica.
        try await Task.sleep(for: .seconds(3))
        let waiting = try await a.describe(key.keyID)
        #expect(waiting.keyState == .pendingReplicaDeletion)
        #expect(waiting.multiRegionConfiguration.replicaKeys.map(\.arn) == [replica.arn])

        // The replica's window passes in B: its reaper deletes it.
        try await peers.databases[1].withClient { client in
            try await client.query(
                "UPDATE kms_keys SET deletion_date = now() - interval '1 day' WHERE arn = \(replica.arn)")
        }
        let started = try await peers.eventually("the primary's waiting period in A") {
            () async throws -> KMSKeyMetadata? in
            let metadata = try await a.describe(key.keyID)
            return metadata.keyState == .pendingDeletion ? metadata : nil
        }
        #expect(started.multiRegionConfiguration.replicaKeys.isEmpty)
        let days = started.deletionDate.date.timeIntervalSinceNow / 86_400
        #expect(days > 6.9 && days <= 7.01, "\(days)")
        #expect(await code { _ = try await b.describe(key.keyID) } == "NotFoundException")

        // Not served: replicating again to the region where the replica was deleted (its export
        // was handled there, and is not sent again).
        var cancel = KMSCancelKeyDeletionRequest()
        cancel.keyID = key.keyID
        _ = try await a.call(KMSMethod.cancelKeyDeletion, cancel)
        var enable = KMSEnableKeyRequest()
        enable.keyID = key.keyID
        _ = try await a.call(KMSMethod.enableKey, enable)
        #expect(await code { _ = try await a.call(KMSMethod.replicateKey, replicate) } == "AlreadyExistsException")
    }
}
