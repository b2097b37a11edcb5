import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSWorkerProto

/// Multi-Region keys across deployments (KMSCrypto's MaterialTransport): this worker's
/// transport public key for the sending deployment's configuration, sealing a stored version
/// for a peer's transport key, and opening one sealed for this worker's, re-wrapped at once
/// under the active root key. Plaintext material exists only inside these calls.
extension CryptoWorker {
    /// The transport public key of the active root key, and its fingerprint.
    public func getTransportKey(_ request: WorkerGetTransportKeyRequest) -> WorkerGetTransportKeyResponse {
        let root = self.keyring.active
        let publicKey = Data(MaterialTransport.transportPublicKeyDER(of: root))
        var response = WorkerGetTransportKeyResponse()
        response.publicKey = publicKey
        response.fingerprint = Data(MaterialTransport.fingerprint(ofPublicKeyDER: publicKey))
        response.rootKeyID = root.id.description
        return response
    }

    /// Unwraps the stored version and seals it for the peer's transport key.
    public func sealMaterialForPeer(_ request: WorkerSealMaterialForPeerRequest) throws(KMSError)
        -> WorkerSealMaterialForPeerResponse
    {
        let ref = request.key
        guard !ref.keyArn.isEmpty, ref.keyArn.utf8.count <= 2048 else {
            throw .validation("key.key_arn must be 1..2048 characters")
        }
        let binding = try Self.binding(request.binding, keyARN: ref.keyArn)
        let materialID = try MaterialID(bytes: ref.material.materialID)
        let (material, header) = try MaterialWrapping.unwrap(
            [UInt8](ref.material.wrapped), keyARN: ref.keyArn, materialID: materialID, keyring: self.keyring)
        // Checked as for any use: only material that fits the key's spec travels.
        _ = try UnwrappedMaterial(material, kind: header.kind, spec: binding.keySpec)
        var response = WorkerSealMaterialForPeerResponse()
        response.sealed = Data(
            try MaterialTransport.seal(
                material, kind: header.kind, keyARN: ref.keyArn, materialID: materialID, binding: binding,
                peerPublicKeyDER: [UInt8](request.peerPublicKey)))
        return response
    }

    /// Opens a version sealed for this worker, checks it against the key's spec and wraps it
    /// under the active root key, bound to the same material ARN and id.
    public func openMaterialFromPeer(_ request: WorkerOpenMaterialFromPeerRequest) throws(KMSError)
        -> WorkerOpenMaterialFromPeerResponse
    {
        _ = try KeyID(parsing: request.keyID)
        guard !request.keyArn.isEmpty, request.keyArn.utf8.count <= 2048 else {
            throw .validation("key_arn must be 1..2048 characters")
        }
        let binding = try Self.binding(request.binding, keyARN: request.keyArn)
        let materialID = try MaterialID(bytes: request.materialID)
        let keyring = self.keyring
        let (material, kind) = try MaterialTransport.open(
            [UInt8](request.sealed), keyARN: request.keyArn, materialID: materialID, binding: binding,
            keyring: keyring)
        _ = try UnwrappedMaterial(material, kind: kind, spec: binding.keySpec)
        let root = keyring.active
        var response = WorkerOpenMaterialFromPeerResponse()
        response.material.materialID = Data(materialID.bytes)
        response.material.wrapped = Data(
            MaterialWrapping.wrap(material, kind: kind, keyARN: request.keyArn, materialID: materialID, under: root))
        response.rootKeyID = root.id.description
        return response
    }

    /// The binding's fields, checked: the `mrk-` id must be the one the material ARN names, so
    /// that the two cannot disagree.
    static func binding(_ binding: WorkerTransportBinding, keyARN: String) throws(KMSError)
        -> MaterialTransport.Binding
    {
        guard binding.mrkID.hasPrefix("mrk-"), keyARN.hasSuffix(":key/" + binding.mrkID) else {
            throw .validation("binding.mrk_id must be the multi-Region key id the key ARN names")
        }
        for region in [binding.sourceRegion, binding.destinationRegion] {
            guard (1...32).contains(region.utf8.count) else {
                throw .validation("binding regions must be 1..32 characters")
            }
        }
        guard binding.sourceRegion != binding.destinationRegion else {
            throw .validation("binding.source_region and destination_region must differ")
        }
        guard [0, 32].contains(binding.replicaDigest.count) else {
            throw .validation("binding.replica_digest must be empty or 32 bytes")
        }
        return MaterialTransport.Binding(
            mrkID: binding.mrkID, sourceRegion: binding.sourceRegion, destinationRegion: binding.destinationRegion,
            keySpec: try Self.spec(binding.keySpec, field: "binding.key_spec"),
            replicaDigest: Array(binding.replicaDigest))
    }
}
