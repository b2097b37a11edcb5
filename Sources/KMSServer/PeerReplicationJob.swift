import Foundation
import KMSDomain
import KMSStore
import KMSWorkerProto
import Logging
import PostgresNIO
import ServiceLifecycle

/// Multi-Region keys across deployments, kmsd's side of the logical replication: each round
/// sends the versions that replicas in peer regions still lack (a rotation whose export was
/// interrupted), tells the peers the state and rotation schedule of the primaries held here and
/// applies the deletions they told, then imports what the subscription brought for the regions
/// served here.
///
/// Polling, not LISTEN/NOTIFY: rows applied by a subscription fire no ordinary trigger, and a
/// round is one indexed query when nothing arrived. An imported replica is a new key row with
/// its versions wrapped under this deployment's root key by its own kms-cryptod; a row that
/// kms-cryptod refuses (it does not authenticate for the key, version and regions it claims) is
/// marked rejected and never becomes a key. One kmsd of a deployment works at a time (an
/// advisory lock); the others skip the round.
public struct PeerReplicationJob: Service {
    static let lockKey: Int64 = 0x4B4D_535F_4D52_4B58  // "KMS_MRKX"

    let client: PostgresClient
    let service: KMSService
    let interval: Duration
    let logger: Logger
    let clock: ServiceClock

    /// A job over `service`'s stores and worker, a round every `interval`.
    public init(
        client: PostgresClient, service: KMSService, interval: Duration, logger: Logger, clock: ServiceClock = .system
    ) {
        self.client = client
        self.service = service
        self.interval = interval
        self.logger = logger
        self.clock = clock
    }

    /// Runs rounds until a graceful shutdown; a failed round is logged and the next tries again.
    public func run() async throws {
        await Periodic.rounds(
            every: self.interval, clock: self.clock, logger: self.logger,
            failure: "multi-Region replication round failed"
        ) { try await self.roundOnce() }
    }

    func roundOnce() async throws {
        _ = try await self.client.withSessionAdvisoryLock(
            Self.lockKey, logger: self.logger, statements: .backgroundCalls
        ) {
            try await self.service.exportPendingMaterials(family: nil)
            try await self.service.exchangeKeyStates()
            try await self.service.importFromPeers()
        }
    }
}

extension KMSService {
    /// Tells the replicas in peer regions what changed in their primaries here (state, rotation
    /// schedule: their GetKeyRotationStatus shows it), and drops from the families here the
    /// related keys that peer deployments told deleted (DescribeKey no longer lists them; a
    /// primary PendingReplicaDeletion starts its waiting period when none is left).
    func exchangeKeyStates() async throws(KMSError) {
        guard let peers = self.stores.peerReplication else { return }
        let regions = self.scope.regions.sorted()
        try await self.store { _ = try await peers.publishPrimaryStates() }
        let dropped = try await self.store { try await peers.applyPeerDeletions(regions: regions) }
        for (family, region) in dropped {
            for served in regions { self.cache.invalidateKey(family.inRegion(served)) }
            self.logger.notice(
                "a related multi-Region key was deleted in a peer region",
                metadata: ["mrk_id": "\(family.publicID)", "region": "\(region)"])
        }
    }

    /// Imports the replicas, then the later versions, that arrived for the regions served here.
    func importFromPeers() async throws(KMSError) {
        guard let peers = self.stores.peerReplication else { return }
        let regions = self.scope.regions.sorted()
        let replicas = try await self.store { try await peers.pendingReplicaImports(regions: regions, limit: 20) }
        for export in replicas {
            try await self.importReplica(export, from: peers, regions: regions)
        }
        let versions = try await self.store {
            try await peers.exportedMaterials(family: nil, region: nil, regions: regions, pendingOnly: true, limit: 100)
        }
        for version in versions {
            let replicaID = version.mrkID.inRegion(version.destinationRegion)
            guard let (replica, _) = try await self.store({ try await self.stores.keys.fetch(keyID: replicaID) }) else {
                continue
            }
            var version = version
            version.spec = replica.spec
            // A version sent with ReplicateKey belongs to the replica's creation, never later.
            if version.withReplica {
                try await self.reject(
                    version.mrkID, version.destinationRegion, version.materialID,
                    "a version sent with its replica arrived after the replica was created", peers)
                continue
            }
            switch try await self.openFromPeer(
                version, materialARN: replica.materialARN, replicaID: replicaID, replicaDigest: [])
            {
            case .opened(let stored):
                try await self.store { [version] in
                    try await peers.importMaterial(version, stored, replicaID: replicaID)
                }
                self.cache.invalidateKey(replicaID)
                self.logger.notice(
                    "imported a multi-Region key version from a peer region",
                    metadata: ["key_arn": "\(replica.arn)", "material": "\(version.materialID.hex)"])
            case .refused(let reason):
                try await self.reject(version.mrkID, version.destinationRegion, version.materialID, reason, peers)
            case .later:
                continue
            }
        }
    }

    private func importReplica(_ export: ReplicaExport, from peers: any PeerReplicationStoring, regions: [String])
        async throws(KMSError)
    {
        let region = export.destinationRegion
        let replicaID = export.mrkID.inRegion(region)
        let arn = self.scope.keyARN(account: export.account, region: region, keyID: export.mrkID.publicID)
        guard export.mrkID.isMultiRegion, export.replicaARN == arn else {
            try await self.reject(export.mrkID, region, nil, "the exported replica's ARN is not its key's", peers)
            return
        }
        let versions = try await self.store {
            try await peers.exportedMaterials(
                family: export.mrkID, region: region, regions: regions, pendingOnly: false, limit: 10_000)
        }
        // The versions commit with the export, or (rotations) after it: wait for the current one.
        guard versions.contains(where: { $0.materialID == export.currentMaterialID }) else { return }
        let materialARN = KeyRecord.materialARN(keyARN: arn, keyID: replicaID)
        var opened: [(MaterialExport, StoredMaterial)] = []
        for var version in versions {
            version.spec = export.spec
            let digest = version.withReplica ? export.digest : []
            switch try await self.openFromPeer(
                version, materialARN: materialARN, replicaID: replicaID, replicaDigest: digest)
            {
            case .opened(let stored): opened.append((version, stored))
            case .refused(let reason):
                try await self.reject(export.mrkID, region, nil, "version \(version.materialID.hex): \(reason)", peers)
                return
            case .later: return
            }
        }
        let replica = KeyRecord(
            keyID: replicaID, arn: arn, account: export.account, region: region, description: export.description,
            state: .enabled, usage: export.usage, spec: export.spec, origin: export.origin, manager: .customer,
            creationDate: Date(timeIntervalSince1970: self.now().timeIntervalSince1970.rounded(.down)),
            deletionDate: nil, pendingWindowInDays: nil, policy: export.policy,
            currentMaterialID: export.currentMaterialID, version: 1)
        // As at AWS, where ReplicateKey makes a CreateKey event in the replica's region by KMS
        // itself: the replica's creation is recorded here, with it, as the service's own act.
        let audit = self.auditLog.map { log in
            PendingAudit(
                chain: log.chain,
                entry: AuditEntry(
                    time: self.now(), requestID: RequestID.next(), principalARN: Self.servicePrincipal,
                    accessKeyID: nil, sourceIP: nil, transport: "peer-replication", operation: "CreateKey",
                    keyARNs: [arn], alias: nil, encryptionContext: nil, grantID: nil, errorCode: nil))
        }
        let created = try await self.store { [opened] in
            try await peers.importReplica(replica, export: export, materials: opened, audit: audit)
        }
        self.cache.invalidateKey(replicaID)
        if created, let audit, let log = self.auditLog {
            do {
                try await log.append(audit.entry, pending: audit)
            } catch {
                // Committed with the replica: the outbox sweeper chains it if this could not.
                self.logger.warning(
                    "the audit record of a replica from a peer region is not chained yet",
                    metadata: ["key_arn": "\(arn)", "error": "\(error)"])
            }
        }
        if created {
            self.logger.notice(
                "created a multi-Region replica key from a peer region",
                metadata: ["key_arn": "\(arn)", "primary_region": "\(export.sourceRegion)"])
        }
    }

    /// The principal of what kmsd does on its own (AWS's records name KMS's service principal).
    static let servicePrincipal = "kms.amazonaws.com"

    private enum Opening {
        case opened(StoredMaterial)
        /// kms-cryptod refused it for good: it never becomes a version here.
        case refused(String)
        /// Not now (kms-cryptod does not hold the transport key yet, or was unreachable).
        case later
    }

    private func openFromPeer(
        _ version: MaterialExport, materialARN: String, replicaID: KeyID, replicaDigest: [UInt8]
    ) async throws(KMSError) -> Opening {
        var request = WorkerOpenMaterialFromPeerRequest()
        request.keyID = replicaID.description
        request.keyArn = materialARN
        request.materialID = Data(version.materialID.bytes)
        request.sealed = Data(version.sealed)
        request.binding = Self.transportBinding(version, replicaDigest: replicaDigest)
        do {
            let answer = try await self.worker.call(WorkerMethod.openMaterialFromPeer, request)
            guard let root = UUID(uuidString: answer.rootKeyID),
                Array(answer.material.materialID) == version.materialID.bytes
            else { return .refused("kms-cryptod's answer names another version") }
            return .opened(
                StoredMaterial(materialID: version.materialID, wrapped: Array(answer.material.wrapped), rootKeyID: root)
            )
        } catch {
            if error.retryable || error.code == .keyUnavailable {
                self.logger.warning(
                    "a multi-Region key version from a peer region cannot be opened yet",
                    metadata: ["material": "\(version.materialID.hex)", "error": "\(error)"])
                return .later
            }
            return .refused(error.description)
        }
    }

    private func reject(
        _ mrkID: KeyID, _ region: String, _ material: MaterialID?, _ reason: String,
        _ peers: any PeerReplicationStoring
    ) async throws(KMSError) {
        self.logger.error(
            "refused a multi-Region key export from a peer region",
            metadata: ["mrk_id": "\(mrkID.publicID)", "region": "\(region)", "reason": "\(reason)"])
        try await self.store {
            try await peers.rejectImport(of: mrkID, region: region, material: material, reason: reason)
        }
    }
}
