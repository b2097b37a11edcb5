import struct Foundation.Date

/// AWS's rules for the materials of a key of origin EXTERNAL: the first import binds its
/// material to the key; a symmetric encryption key may take new material (NEW_KEY_MATERIAL),
/// which waits in PENDING_ROTATION until RotateKeyOnDemand makes it current; a key is usable
/// only while every material bound to it is imported. Pure: each rule returns the change.
public enum ImportedMaterialRules {
    /// The model's KeyMaterialDescriptionType pattern, as AWS quotes it.
    public static let descriptionPattern = "^[a-zA-Z0-9:/_\\s.-]+$"

    /// The key's materials as stored, or, for a key imported into before materials were listed
    /// (or stored without the list), its current material as the one entry.
    public static func materials(of record: KeyRecord, stored: [ImportedMaterial]) -> [ImportedMaterial] {
        guard stored.isEmpty, let current = record.currentMaterialID else { return stored }
        return [
            ImportedMaterial(
                materialID: current, validTo: record.validTo, expirationModel: record.expirationModel,
                isImported: record.state != .pendingImport, isPendingRotation: false, importedAt: record.creationDate)
        ]
    }

    /// Checks a KeyMaterialDescription against the model (0..256 characters of `descriptionPattern`).
    public static func validateDescription(_ text: String) throws(KMSError) {
        var violations: [ConstraintViolation] = []
        if let broken = ConstraintViolation.length(text, in: 0...256) {
            violations.append(ConstraintViolation(value: text, member: "keyMaterialDescription", constraint: broken))
        }
        // The pattern's `+` refuses the empty string too, as a pattern check of the model does.
        if text.isEmpty || !text.unicodeScalars.allSatisfy(isDescriptionCharacter) {
            violations.append(
                ConstraintViolation(
                    value: text, member: "keyMaterialDescription",
                    constraint: "Member must satisfy regular expression pattern: \(descriptionPattern)"))
        }
        if let error = KMSError.validation(violations: violations) { throw error }
    }

    static func isDescriptionCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ":", "/", "_", ".", "-", " ", "\t", "\n", "\u{0B}", "\u{0C}", "\r":
            return true
        default:
            return false
        }
    }

    /// What one ImportKeyMaterial request asks, after its fields are validated.
    public struct Import: Sendable {
        /// The material the worker unwrapped (its id derived from it and the key ARN).
        public var materialID: MaterialID
        /// The caller's ImportType; nil: AWS's default for the key.
        public var type: ImportType?
        /// The caller's KeyMaterialId (hex), which must name `materialID`.
        public var requestedID: String?
        /// The caller's KeyMaterialDescription; nil keeps the stored one.
        public var description: String?
        /// When the material expires, with `expirationModel`.
        public var validTo: Date?
        /// The expiration model of this import.
        public var expirationModel: ExpirationModel

        /// A request's import.
        public init(
            materialID: MaterialID, type: ImportType?, requestedID: String?, description: String?, validTo: Date?,
            expirationModel: ExpirationModel
        ) {
            self.materialID = materialID
            self.type = type
            self.requestedID = requestedID
            self.description = description
            self.validTo = validTo
            self.expirationModel = expirationModel
        }
    }

    /// AWS's default ImportType: NEW_KEY_MATERIAL until material was first imported, then
    /// EXISTING_KEY_MATERIAL.
    public static func defaultType(_ record: KeyRecord, materials: [ImportedMaterial]) -> ImportType {
        materials.isEmpty && record.currentMaterialID == nil ? .newKeyMaterial : .existingKeyMaterial
    }

    /// The change an import makes. Errors: KeyMaterialId with NEW_KEY_MATERIAL (Validation);
    /// KeyMaterialId not the imported material's, EXISTING_KEY_MATERIAL of material the key
    /// never had, NEW_KEY_MATERIAL of material it has (IncorrectKeyMaterial); new material for
    /// a key that cannot rotate (UnsupportedOperation) or while other material is pending
    /// rotation (KMSInvalidState).
    public static func importing(
        _ request: Import, into record: KeyRecord, materials stored: [ImportedMaterial], at now: Date
    )
        throws(KMSError) -> ImportedMaterialChange
    {
        let materials = Self.materials(of: record, stored: stored)
        let id = request.materialID
        let type = request.type ?? Self.defaultType(record, materials: materials)
        if let requested = request.requestedID {
            guard type == .existingKeyMaterial else {
                // AWS's exact text is not documented; the rule is ("You cannot specify a key
                // material ID with ImportType set to NEW_KEY_MATERIAL").
                throw .validation("KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL.")
            }
            guard requested == id.hex else {
                throw KMSError(
                    .incorrectKeyMaterial, "The key material is not the material KeyMaterialId \(requested) names.")
            }
        }
        var updated = record
        var list = materials
        switch type {
        case .existingKeyMaterial:
            guard let index = list.firstIndex(where: { $0.materialID == id }) else {
                throw KMSError(
                    .incorrectKeyMaterial,
                    "The key material is not the material previously imported into \(record.arn).")
            }
            list[index].isImported = true
            list[index].validTo = request.validTo
            list[index].expirationModel = request.expirationModel
            if let description = request.description { list[index].description = description }
        case .newKeyMaterial:
            try Self.checkNewMaterial(into: record, first: list.isEmpty && record.currentMaterialID == nil)
            if list.contains(where: { $0.materialID == id }) {
                // AWS's text for this case is not documented.
                throw KMSError(
                    .incorrectKeyMaterial,
                    "The key material (id: \(id.hex)) is already associated with \(record.arn); import it with "
                        + "ImportType EXISTING_KEY_MATERIAL.")
            }
            let first = list.isEmpty && record.currentMaterialID == nil
            if !first {
                guard record.spec == .symmetricDefault else {
                    throw KMSError(
                        .unsupportedOperation,
                        "\(record.arn) is not a symmetric encryption key: its key material cannot be rotated, so "
                            + "only the material previously imported into it can be imported again.")
                }
                if let pending = list.first(where: \.isPendingRotation) {
                    throw KMSError(
                        .invalidState,
                        "New key material (id: \(id.hex)) cannot be imported into KMS key \(record.keyID), because "
                            + "another key material (id: \(pending.materialID.hex)) is pending rotation.")
                }
            }
            list.append(
                ImportedMaterial(
                    materialID: id, description: request.description ?? "", validTo: request.validTo,
                    expirationModel: request.expirationModel, isImported: true, isPendingRotation: !first,
                    importedAt: now))
            if first { updated.currentMaterialID = id }
        }
        Self.follow(&updated, list)
        return ImportedMaterialChange(record: updated, materials: list, materialID: id)
    }

    /// The change RotateKeyOnDemand makes on an EXTERNAL key: the material pending rotation
    /// becomes current, the current one non-current.
    public static func rotating(_ record: KeyRecord, materials stored: [ImportedMaterial]) throws(KMSError)
        -> ImportedMaterialChange
    {
        var list = Self.materials(of: record, stored: stored)
        guard let index = list.firstIndex(where: { $0.isPendingRotation && $0.isImported }) else {
            throw KMSError(.invalidState, "No available key material pending rotation for the key: \(record.arn).")
        }
        list[index].isPendingRotation = false
        var updated = record
        updated.currentMaterialID = list[index].materialID
        Self.follow(&updated, list)
        return ImportedMaterialChange(
            record: updated, materials: list, rotatedTo: list[index].materialID, materialID: list[index].materialID)
    }

    /// The change DeleteImportedKeyMaterial makes (`materialID` nil: the current material), or
    /// nil when there is nothing to delete (no material yet, or the material is already
    /// pending import). A material pending rotation goes entirely, the key unchanged; any other
    /// becomes PENDING_IMPORT and the key PendingImport (PendingDeletion stays).
    public static func deleting(_ materialID: MaterialID?, from record: KeyRecord, materials stored: [ImportedMaterial])
        throws(KMSError) -> ImportedMaterialChange?
    {
        let list = Self.materials(of: record, stored: stored)
        guard let id = materialID ?? record.currentMaterialID else { return nil }
        guard let material = list.first(where: { $0.materialID == id }) else {
            throw KMSError(.notFound, "\(record.arn) has no key material \(id.hex).")
        }
        guard material.isImported else { return nil }
        return Self.expiring([id], of: record, materials: list)
    }

    /// The change deleting or expiring these materials makes (see `deleting`).
    public static func expiring(_ ids: [MaterialID], of record: KeyRecord, materials stored: [ImportedMaterial])
        -> ImportedMaterialChange
    {
        var list = Self.materials(of: record, stored: stored)
        let gone = Set(ids)
        list.removeAll { gone.contains($0.materialID) && $0.isPendingRotation }
        for index in list.indices where gone.contains(list[index].materialID) {
            list[index].isImported = false
            list[index].validTo = nil
        }
        var updated = record
        Self.follow(&updated, list)
        return ImportedMaterialChange(
            record: updated, materials: list, removed: Array(gone).sorted { $0.hex < $1.hex }, materialID: ids.first)
    }

    /// The key's state and DescribeKey's ValidTo and ExpirationModel follow its materials:
    /// usable only while every material bound to it is imported.
    static func follow(_ record: inout KeyRecord, _ materials: [ImportedMaterial]) {
        let bound = materials.filter { !$0.isPendingRotation }
        let complete = !bound.isEmpty && bound.allSatisfy(\.isImported)
        if complete, record.state == .pendingImport {
            record.state = .enabled
        } else if !complete, record.state != .pendingDeletion, record.state != .pendingReplicaDeletion {
            record.state = .pendingImport
        }
        let current = materials.first { $0.materialID == record.currentMaterialID }
        record.validTo = current?.validTo
        record.expirationModel = current?.isImported == true ? current?.expirationModel : nil
    }
}
