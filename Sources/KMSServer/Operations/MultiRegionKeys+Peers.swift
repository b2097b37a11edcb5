import Crypto
import Foundation
import KMSDomain
import KMSProto
import KMSStore
import KMSWorkerProto

/// ReplicateKey to a region served by a peer deployment (README, "Multi-Region keys across
/// deployments"). The replica is not created here: each material version of the primary is
/// sealed by this deployment's kms-cryptod for the peer kms-cryptod's transport key (bound to
/// the key, the version and both regions), and written with the replica's public metadata and
/// requested policy, description and tags to the tables that PostgreSQL publishes to the peer.
/// The peer's kmsd creates the replica once its kms-cryptod has opened every version and
/// wrapped it under its own root key (`PeerReplicationJob`); until then the response, like
/// AWS's, shows the replica as Creating. Rotations of the primary follow the same way.
extension KMSService {
    func replicateKeyToPeer(
        _ request: KMSReplicateKeyRequest, primary start: CachedKey, region: String, peerKey: [UInt8],
        policy: String, tags: [(key: String, value: String)], caller: Caller
    ) async throws(KMSError) -> KMSReplicateKeyResponse {
        guard let peers = self.stores.peerReplication else {
            throw KMSError(
                .unsupportedOperation, "Multi-Region keys across deployments are not supported by this store.")
        }
        // Imported material is never copied (AWS): a replica in a peer region would need its own
        // import there, and the family's material list kept across deployments, which is not served.
        guard start.record.origin != .external else {
            throw KMSError(
                .unsupportedOperation,
                "\(start.record.arn) has imported key material: it is replicated only into regions this deployment "
                    + "serves, not into \(region), a region of another deployment.")
        }
        var primary = start
        for _ in 0..<5 {
            let source = primary.record
            try source.state.checkUsable(keyARN: source.arn)
            if source.region == region || source.multiRegion?.replicaRegions.contains(region) == true {
                throw Self.replicaExists(source, region)
            }
            guard let current = source.currentMaterialID else {
                throw KMSError(.invalidState, "\(source.arn) has no key material to replicate.")
            }
            var replica = KeyRecord(
                keyID: source.keyID.inRegion(region), arn: source.relatedARN(in: region), account: source.account,
                region: region, description: request.description_p, state: .creating, usage: source.usage,
                spec: source.spec, origin: source.origin, manager: source.manager,
                creationDate: Date(timeIntervalSince1970: self.now().timeIntervalSince1970.rounded(.down)),
                deletionDate: nil, pendingWindowInDays: nil, policy: policy, currentMaterialID: current, version: 1)
            replica.multiRegion = MultiRegionConfiguration(
                keyType: .replica, primaryRegion: source.region,
                replicaRegions: (source.multiRegion?.replicaRegions ?? []) + [region])
            let export = ReplicaExport(
                mrkID: source.keyID.publicID, destinationRegion: region, sourceRegion: source.region,
                replicaARN: replica.arn, account: source.account, usage: source.usage, spec: source.spec,
                origin: source.origin, description: request.description_p, policy: policy, tags: tags,
                currentMaterialID: current)
            let stored = try await self.store { try await peers.exportableMaterials(of: source, to: region) }
            let sealed = try await self.sealForPeer(stored, peerKey: peerKey, replica: export)
            let audit = self.changeRecord(caller)
            let outcome = try await self.store { [replica] in
                try await peers.insertRemoteReplica(
                    replica, export: export, materials: sealed, of: source, audit: audit)
            }
            switch outcome {
            case .inserted(let record):
                self.cache.invalidateKey(source.keyID)
                return Self.replicated(record, policy: policy, request: request)
            case .exists:
                throw Self.replicaExists(source, region)
            case .primaryChanged:
                primary = try await self.reloadKey(source.keyID)
                try Self.checkPrimary(primary.record, "ReplicateKey")
            }
        }
        throw KMSError(.conflict, "\(primary.record.arn) is being changed concurrently; retry", retryable: true)
    }

    /// Sends a primary's versions that its replicas in peer regions lack (a rotation); after
    /// each rotation of a replicated primary, and in every round of `PeerReplicationJob`, so
    /// that a kmsd stopped between the rotation and its export loses nothing. Returns how many.
    @discardableResult
    func exportPendingMaterials(family: KeyID?) async throws(KMSError) -> Int {
        guard let peers = self.stores.peerReplication, !self.scope.peerRegions.isEmpty else { return 0 }
        let pending = try await self.store { try await peers.pendingMaterialExports(family: family, limit: 100) }
        var sealed: [MaterialExport] = []
        for (region, versions) in Dictionary(grouping: pending, by: \.destinationRegion) {
            guard let peerKey = self.scope.peerRegions[region] else {
                self.logger.warning(
                    "a multi-Region replica's region is no longer a configured peer region; its new versions wait",
                    metadata: ["region": "\(region)"])
                continue
            }
            sealed += try await self.sealForPeer(versions, peerKey: peerKey)
        }
        guard !sealed.isEmpty else { return 0 }
        try await self.store { [sealed] in try await peers.insertMaterialExports(sealed) }
        return sealed.count
    }

    /// A rotation of a primary with replicas in peer regions reaches them now; a failure is
    /// logged and left to `PeerReplicationJob`'s next round (the rotation has committed).
    func exportRotation(of record: KeyRecord) async {
        guard record.keyID.isMultiRegion, !self.scope.peerRegions.isEmpty else { return }
        do {
            try await self.exportPendingMaterials(family: record.keyID)
        } catch {
            self.logger.warning(
                "a rotation's export to peer regions failed; the next replication round sends it",
                metadata: ["key_arn": "\(record.arn)", "error": "\(error.code.rawValue)"])
        }
    }

    /// Each version sealed by kms-cryptod for `peerKey`, bound to its key, id and regions, and
    /// with `replica` (ReplicateKey) to the digest of what the replica is created with.
    func sealForPeer(_ versions: [MaterialExport], peerKey: [UInt8], replica: ReplicaExport? = nil)
        async throws(KMSError) -> [MaterialExport]
    {
        var sealed: [MaterialExport] = []
        for var version in versions {
            version.withReplica = replica != nil
            var request = WorkerSealMaterialForPeerRequest()
            request.key.keyID = version.mrkID.description
            request.key.keyArn = KeyRecord.materialARN(keyARN: version.primaryARN, keyID: version.mrkID)
            request.key.keySpec = WorkerKeySpec(version.spec)
            request.key.material.materialID = Data(version.materialID.bytes)
            request.key.material.wrapped = Data(version.wrapped)
            request.peerPublicKey = Data(peerKey)
            request.binding = Self.transportBinding(version, replicaDigest: replica?.digest ?? [])
            version.sealed = Array(try await self.worker.call(WorkerMethod.sealMaterialForPeer, request).sealed)
            version.wrapped = []
            sealed.append(version)
        }
        return sealed
    }

    /// What a sealed version is bound to besides its material ARN and id.
    static func transportBinding(_ version: MaterialExport, replicaDigest: [UInt8]) -> WorkerTransportBinding {
        var binding = WorkerTransportBinding()
        binding.mrkID = version.mrkID.publicID.description
        binding.sourceRegion = version.sourceRegion
        binding.destinationRegion = version.destinationRegion
        binding.keySpec = WorkerKeySpec(version.spec)
        binding.replicaDigest = Data(replicaDigest)
        return binding
    }
}

extension ReplicaExport {
    /// SHA-256 over a length-prefixed encoding of everything the replica is created with, so
    /// that kms-cryptod refuses the versions sent with ReplicateKey if any of it changed on the
    /// way (a more permissive policy, say).
    var digest: [UInt8] {
        var fields = [
            self.mrkID.publicID.description, self.destinationRegion, self.sourceRegion, self.replicaARN, self.account,
            self.usage.rawValue, self.spec.rawValue, self.origin.rawValue, self.description, self.policy,
            self.currentMaterialID.hex, String(self.tags.count),
        ]
        for tag in self.tags { fields += [tag.key, tag.value] }
        var bytes = Array("kms/mrk-replica/v1".utf8)
        for field in fields {
            let utf8 = Array(field.utf8)
            withUnsafeBytes(of: UInt32(utf8.count).bigEndian) { bytes += $0 }
            bytes += utf8
        }
        return Array(SHA256.hash(data: bytes))
    }
}
