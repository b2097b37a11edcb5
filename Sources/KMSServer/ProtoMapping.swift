import Foundation
import KMSCrypto
import KMSDomain
import KMSProto
import KMSStore
import KMSWorkerProto
import SwiftProtobuf

extension KMSKeyMetadata {
    init(_ key: KeyRecord) {
        self.init()
        self.awsAccountID = key.account
        self.keyID = key.keyID.description
        self.arn = key.arn
        self.creationDate = Google_Protobuf_Timestamp(date: key.creationDate)
        self.enabled = key.state == .enabled
        self.description_p = key.description
        self.keyUsage = KMSKeyUsage(awsName: key.usage.rawValue) ?? .unspecified
        self.keyState = KMSKeyState(awsName: key.state.rawValue) ?? .unspecified
        if let deletion = key.deletionDate {
            self.deletionDate = Google_Protobuf_Timestamp(date: deletion)
        }
        if let window = key.pendingWindowInDays, [.pendingDeletion, .pendingReplicaDeletion].contains(key.state) {
            self.pendingDeletionWindowInDays = Int32(window)
        }
        self.origin = KMSOrigin(awsName: key.origin.rawValue) ?? .unspecified
        self.keyManager = KMSKeyManager(awsName: key.manager.rawValue) ?? .unspecified
        self.keySpec = KMSKeySpec(awsName: key.spec.rawValue) ?? .unspecified
        self.customerMasterKeySpec = KMSCustomerMasterKeySpec(awsName: key.spec.rawValue) ?? .unspecified
        self.encryptionAlgorithms = key.encryptionAlgorithms.compactMap {
            KMSEncryptionAlgorithmSpec(awsName: $0.rawValue)
        }
        self.signingAlgorithms = key.signingAlgorithms.compactMap { KMSSigningAlgorithmSpec(awsName: $0.rawValue) }
        self.macAlgorithms = key.macAlgorithms.compactMap { KMSMacAlgorithmSpec(awsName: $0.rawValue) }
        self.keyAgreementAlgorithms = key.keyAgreementAlgorithms.compactMap {
            KMSKeyAgreementAlgorithmSpec(awsName: $0.rawValue)
        }
        self.multiRegion = key.keyID.isMultiRegion
        if let family = key.multiRegion {
            var configuration = KMSMultiRegionConfiguration()
            configuration.multiRegionKeyType = family.keyType == .primary ? .primary : .replica
            configuration.primaryKey = KMSMultiRegionKey(
                arn: key.relatedARN(in: family.primaryRegion), region: family.primaryRegion)
            configuration.replicaKeys = family.replicaRegions.map {
                KMSMultiRegionKey(arn: key.relatedARN(in: $0), region: $0)
            }
            self.multiRegionConfiguration = configuration
        }
        // AWS names the current material of symmetric encryption keys only (of an EXTERNAL one,
        // once material is imported); asymmetric and HMAC keys' metadata has no such member.
        if let material = key.currentMaterialID, key.spec == .symmetricDefault {
            self.currentKeyMaterialID = material.hex
        }
        if let validTo = key.validTo { self.validTo = Google_Protobuf_Timestamp(date: validTo) }
        if let model = key.expirationModel {
            self.expirationModel = KMSExpirationModel(awsName: model.rawValue) ?? .unspecified
        }
        if let store = key.customKeyStoreID { self.customKeyStoreID = store.description }
        if let xksKeyID = key.xksKeyID {
            var configuration = KMSXksKeyConfiguration()
            configuration.id = xksKeyID
            self.xksKeyConfiguration = configuration
        }
    }
}

extension KMSMultiRegionKey {
    init(arn: String, region: String) {
        self.init()
        self.arn = arn
        self.region = region
    }
}

extension WorkerKeyRef {
    /// The worker's view of a key and one of its material versions.
    init(_ key: CachedKey, material: StoredMaterial) { self.init(key.record, material: material) }

    /// The same, for a key known by its record.
    init(_ record: KeyRecord, material: StoredMaterial) {
        self.init()
        self.keyID = record.keyID.description
        self.keyArn = record.materialARN
        self.material.materialID = Data(material.materialID.bytes)
        self.material.wrapped = Data(material.wrapped)
        self.keySpec = WorkerKeySpec(record.spec)
    }
}

/// Opaque paging markers: base64url of the last item's sort key.
enum Marker {
    static func encode(_ last: String) -> String {
        Data(last.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ marker: String?) throws(KMSError) -> String? {
        guard let marker, !marker.isEmpty else { return nil }
        var text = marker.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard marker.utf8.count <= 1024, let data = Data(base64Encoded: text),
            let value = String(data: data, encoding: .utf8)
        else {
            throw KMSError(.invalidMarker, "The marker is not one this service issued.")
        }
        return value
    }
}
