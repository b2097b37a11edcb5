import Foundation
import KMSDomain
import KMSProto
import KMSStore
import KMSWorkerProto
import SwiftProtobuf

extension KMSService {
    /// How long an import token and its wrapping key are valid, as at AWS.
    static let importTokenLifetime: TimeInterval = 24 * 3600

    func getParametersForImport(_ request: KMSGetParametersForImportRequest, caller: Caller) async throws(KMSError)
        -> KMSGetParametersForImportResponse
    {
        let algorithmName = request.wrappingAlgorithm.awsName
        let specName = request.wrappingKeySpec.awsName
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(
            caller, action: "GetParametersForImport", key: key,
            conditions: [
                "kms:WrappingAlgorithm": [algorithmName], "kms:WrappingKeySpec": [specName],
            ])
        try Self.checkImportable(key.record)
        guard let algorithm = WrappingAlgorithm(rawValue: algorithmName) else {
            throw .validation(
                "1 validation error detected: Value '\(algorithmName)' at 'wrappingAlgorithm' failed to satisfy "
                    + "constraint: Member must satisfy enum value set: "
                    + "[\(WrappingAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))]"
            )
        }
        guard let spec = WrappingKeySpec(rawValue: specName) else {
            throw .validation(
                "1 validation error detected: Value '\(specName)' at 'wrappingKeySpec' failed to satisfy constraint: "
                    + "Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, SM2]"
            )
        }
        guard algorithm != .rsaesPkcs1V15, algorithm != .sm2pke, spec != .sm2 else {
            throw KMSError(
                .unsupportedOperation,
                "Wrapping algorithm \(algorithm.rawValue) with \(spec.rawValue) is not supported; use "
                    + "RSAES_OAEP_SHA_1/SHA_256 or RSA_AES_KEY_WRAP_SHA_1/SHA_256 with an RSA wrapping key."
            )
        }
        let validTo = Date(
            timeIntervalSince1970: (self.now().timeIntervalSince1970 + Self.importTokenLifetime).rounded(.down))
        var call = WorkerGetParametersForImportRequest()
        call.keyID = key.record.keyID.description
        call.keyArn = key.record.arn
        call.wrappingAlgorithm = WorkerWrappingAlgorithm(algorithm)
        call.wrappingKeySpec = WorkerWrappingKeySpec(spec)
        call.validTo = Int64(validTo.timeIntervalSince1970)
        let parameters = try await self.worker.call(WorkerMethod.getParametersForImport, call)
        var response = KMSGetParametersForImportResponse()
        response.keyID = key.record.arn
        response.importToken = parameters.importToken
        response.publicKey = parameters.publicKey
        response.parametersValidTo = Google_Protobuf_Timestamp(date: validTo)
        return response
    }

    func importKeyMaterial(_ request: KMSImportKeyMaterialRequest, caller: Caller) async throws(KMSError)
        -> KMSImportKeyMaterialResponse
    {
        try Limits.check(request.importToken.count, in: Limits.ciphertextBlobBytes, field: "importToken")
        try Limits.check(
            request.encryptedKeyMaterial.count, in: Limits.ciphertextBlobBytes, field: "encryptedKeyMaterial")
        let validTo = request.hasValidTo ? request.validTo.date : nil
        let model: ExpirationModel
        if request.hasExpirationModel {
            model = try Validation.member(ExpirationModel.self, request.expirationModel.awsName, at: "expirationModel")
        } else {
            // AWS's default (botocore: "The default is KEY_MATERIAL_EXPIRES"), so ValidTo is then required.
            model = .keyMaterialExpires
        }
        switch (model, validTo) {
        case (.keyMaterialExpires, nil):
            throw .validation("A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
        case (.keyMaterialDoesNotExpire, .some):
            throw .validation("ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.")
        case (.keyMaterialExpires, let date?):
            let now = self.now()
            guard date > now, date <= now.addingTimeInterval(365 * 86_400) else {
                throw .validation("ValidTo must be in the future and at most 365 days from now.")
            }
        default:
            break
        }
        var importType: ImportType?
        if request.hasImportType {
            importType = try Validation.member(ImportType.self, request.importType.awsName, at: "importType")
        }
        if request.hasKeyMaterialDescription {
            try ImportedMaterialRules.validateDescription(request.keyMaterialDescription)
        }
        if request.hasKeyMaterialID { _ = try Self.materialID(request.keyMaterialID) }
        var conditions: [String: [String]] = ["kms:ExpirationModel": [model.rawValue]]
        if let validTo { conditions["kms:ValidTo"] = [String(Int64(validTo.timeIntervalSince1970))] }
        var key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "ImportKeyMaterial", key: key, conditions: conditions)
        try Self.checkImportable(key.record)
        var call = WorkerImportKeyMaterialRequest()
        call.key.keyID = key.record.keyID.description
        // A multi-Region key's material is bound to its ARN without a region, so that every
        // related key that imports the same material gets the same id and blob binding.
        call.key.keyArn = key.record.materialARN
        if key.record.materialARN != key.record.arn { call.importTokenArn = key.record.arn }
        call.key.keySpec = WorkerKeySpec(key.record.spec)
        call.importToken = request.importToken
        call.encryptedKeyMaterial = request.encryptedKeyMaterial
        let imported = try await self.worker.call(WorkerMethod.importKeyMaterial, call)
        guard let rootKeyID = UUID(uuidString: imported.rootKeyID) else {
            throw KMSError.internalFailure("the crypto worker named an invalid root key")
        }
        let material = StoredMaterial(
            materialID: try MaterialID(worker: imported.material.materialID), wrapped: Array(imported.material.wrapped),
            rootKeyID: rootKeyID
        )
        // The worker derives the id from the material and the key ARN: EXISTING_KEY_MATERIAL of
        // material the key never had names an id the key does not list, and is refused.
        let asked = ImportedMaterialRules.Import(
            materialID: material.materialID, type: importType,
            requestedID: request.hasKeyMaterialID ? request.keyMaterialID : nil,
            description: request.hasKeyMaterialDescription ? request.keyMaterialDescription : nil, validTo: validTo,
            expirationModel: model)
        for _ in 0..<5 {
            let record = key.record
            try Self.checkImportable(record)
            let listed = try await self.store { try await self.stores.keys.importedMaterials(keyID: record.keyID) }
            let now = self.now()
            let change = try await self.withRelatedListing(
                try ImportedMaterialRules.importing(asked, into: record, materials: listed, at: now),
                listedBefore: ImportedMaterialRules.materials(of: record, stored: listed))
            let audit = self.changeRecord(caller)
            if let stored = try await self.store({
                try await self.stores.keys.changeImportedMaterial(change, adding: material, at: now, audit: audit)
            }) {
                self.cache.invalidateKey(stored.keyID)
                for part in change.related { self.cache.invalidateKey(part.record.keyID) }
                let pending = change.materials.contains { $0.materialID == material.materialID && $0.isPendingRotation }
                self.logger.notice(
                    "imported key material",
                    metadata: [
                        "key_arn": "\(stored.arn)", "expiration_model": "\(model.rawValue)",
                        "material": "\(material.materialID.hex)", "pending_rotation": "\(pending)",
                    ])
                var response = KMSImportKeyMaterialResponse()
                response.keyID = stored.arn
                response.keyMaterialID = material.materialID.hex
                return response
            }
            key = try await self.reloadKey(key.record.keyID)
        }
        throw KMSError(.internalFailure, "\(key.record.arn) is being changed concurrently; retry", retryable: true)
    }

    func deleteImportedKeyMaterial(_ request: KMSDeleteImportedKeyMaterialRequest, caller: Caller)
        async throws(KMSError) -> KMSDeleteImportedKeyMaterialResponse
    {
        let named = request.hasKeyMaterialID ? try Self.materialID(request.keyMaterialID) : nil
        var key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "DeleteImportedKeyMaterial", key: key)
        for _ in 0..<5 {
            let record = key.record
            guard record.origin == .external else {
                throw KMSError(
                    .unsupportedOperation,
                    "\(record.arn) origin is \(record.origin.rawValue) which is not valid for this operation.")
            }
            if record.state == .pendingDeletion || record.state == .pendingReplicaDeletion {
                // AWS's key state table: refused while the key waits for deletion.
                throw KMSError(
                    .invalidState,
                    "\(record.arn) is pending deletion; its imported key material cannot be deleted in that state.")
            }
            let listed = try await self.store { try await self.stores.keys.importedMaterials(keyID: record.keyID) }
            guard let asked = try ImportedMaterialRules.deleting(named, from: record, materials: listed) else {
                // Nothing to delete (no material yet, or already pending import): AWS answers success.
                var response = KMSDeleteImportedKeyMaterialResponse()
                response.keyID = record.arn
                return response
            }
            let change = try await self.withRelatedDeletion(
                asked, listedBefore: ImportedMaterialRules.materials(of: record, stored: listed))
            let audit = self.changeRecord(caller)
            if let stored = try await self.store({
                try await self.stores.keys.changeImportedMaterial(change, adding: nil, at: self.now(), audit: audit)
            }) {
                self.cache.invalidateKey(stored.keyID)
                for part in change.related { self.cache.invalidateKey(part.record.keyID) }
                let deleted = change.materialID?.hex ?? ""
                self.logger.notice(
                    "deleted imported key material", metadata: ["key_arn": "\(stored.arn)", "material": "\(deleted)"])
                var response = KMSDeleteImportedKeyMaterialResponse()
                response.keyID = stored.arn
                response.keyMaterialID = deleted
                return response
            }
            key = try await self.reloadKey(key.record.keyID)
        }
        throw KMSError(.internalFailure, "\(key.record.arn) is being changed concurrently; retry", retryable: true)
    }

    /// A KeyMaterialId as the model constrains it (BackingKeyIdType: 64 of [a-f0-9]).
    static func materialID(_ text: String) throws(KMSError) -> MaterialID {
        var violations: [ConstraintViolation] = []
        if let broken = ConstraintViolation.length(text, in: 64...64) {
            violations.append(ConstraintViolation(value: text, member: "keyMaterialId", constraint: broken))
        }
        if text.isEmpty || !text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) {
            violations.append(
                ConstraintViolation(
                    value: text, member: "keyMaterialId",
                    constraint: "Member must satisfy regular expression pattern: ^[a-f0-9]+$"))
        }
        if let error = KMSError.validation(violations: violations) { throw error }
        guard let bytes = Hex.decode(text), let id = try? MaterialID(bytes: bytes) else {
            throw .validation("KeyMaterialId \(text) is not a key material id.")
        }
        return id
    }

    /// Import works on EXTERNAL keys that are not pending deletion.
    static func checkImportable(_ record: KeyRecord) throws(KMSError) {
        guard record.origin == .external else {
            throw KMSError(
                .unsupportedOperation,
                "\(record.arn) origin is \(record.origin.rawValue) which is not valid for this operation.")
        }
        switch record.state {
        case .pendingImport, .enabled, .disabled: return
        default:
            throw KMSError(
                .invalidState,
                "\(record.arn) is \(record.state.rawValue); key material cannot be imported in that state.")
        }
    }
}
