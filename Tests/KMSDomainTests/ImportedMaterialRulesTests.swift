import Foundation
import KMSDomain
import Testing

/// The state rules of imported material: defaults of ImportType, pending rotation, rotation,
/// deletion and the key state that follows its materials.
@Suite struct ImportedMaterialRulesTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func key(spec: KeySpec = .symmetricDefault) -> KeyRecord {
        KeyRecord(
            keyID: KeyID.random(), arn: "arn:aws:kms:us-east-1:111122223333:key/k", account: "111122223333",
            region: "us-east-1", description: "", state: .pendingImport, usage: .encryptDecrypt, spec: spec,
            origin: .external, manager: .customer, creationDate: Self.now, deletionDate: nil,
            pendingWindowInDays: nil, policy: "", currentMaterialID: nil, version: 1)
    }

    static func id(_ byte: UInt8) -> MaterialID { try! MaterialID(bytes: [UInt8](repeating: byte, count: 32)) }

    static func asking(
        _ byte: UInt8, _ type: ImportType? = nil, requested: String? = nil, description: String? = nil,
        validTo: Date? = nil
    ) -> ImportedMaterialRules.Import {
        ImportedMaterialRules.Import(
            materialID: Self.id(byte), type: type, requestedID: requested, description: description,
            validTo: validTo, expirationModel: validTo == nil ? .keyMaterialDoesNotExpire : .keyMaterialExpires)
    }

    /// Applies a change as a store would.
    static func applied(_ change: ImportedMaterialChange) -> (KeyRecord, [ImportedMaterial]) {
        var record = change.record
        record.version += 1
        return (record, change.materials)
    }

    /// A key with material 1 current and material 2 imported as new, pending rotation.
    static func currentAndPending() throws -> (KeyRecord, [ImportedMaterial]) {
        let (record, materials) = Self.applied(
            try ImportedMaterialRules.importing(Self.asking(1), into: Self.key(), materials: [], at: Self.now))
        return Self.applied(
            try ImportedMaterialRules.importing(
                Self.asking(2, .newKeyMaterial), into: record, materials: materials, at: Self.now))
    }

    @Test func theFirstImportIsNewAndCurrentThenTheDefaultIsExisting() throws {
        var (record, materials) = Self.applied(
            try ImportedMaterialRules.importing(
                Self.asking(1, description: "one"), into: Self.key(), materials: [],
                at: Self.now))
        #expect(record.state == .enabled)
        #expect(record.currentMaterialID == Self.id(1))
        #expect(materials.map { $0.state(in: record) } == [.current])
        #expect(ImportedMaterialRules.defaultType(record, materials: materials) == .existingKeyMaterial)
        // Other material without ImportType: EXISTING, which the key never had.
        #expect(throws: KMSError.self) {
            try ImportedMaterialRules.importing(Self.asking(2), into: record, materials: materials, at: Self.now)
        }
        // The same again, without a description: the description stays, the expiry is the new one's.
        let later = Self.now.addingTimeInterval(3600)
        (record, materials) = Self.applied(
            try ImportedMaterialRules.importing(
                Self.asking(1, validTo: later), into: record, materials: materials,
                at: Self.now))
        #expect(materials.first?.description == "one")
        #expect(record.validTo == later && record.expirationModel == .keyMaterialExpires)
    }

    @Test func newMaterialWaitsForTheRotationOneAtATime() throws {
        var (record, materials) = try Self.currentAndPending()
        #expect(record.currentMaterialID == Self.id(1))
        #expect(materials.map { $0.state(in: record) } == [.current, .pendingRotation])
        do {
            _ = try ImportedMaterialRules.importing(
                Self.asking(3, .newKeyMaterial), into: record, materials: materials, at: Self.now)
            Issue.record("a second pending material was accepted")
        } catch {
            #expect(error.code == .invalidState)
            #expect(
                error.message == "New key material (id: \(Self.id(3).hex)) cannot be imported into KMS key "
                    + "\(record.keyID), because another key material (id: \(Self.id(2).hex)) is pending rotation.")
        }
        #expect(throws: KMSError.self) {
            try ImportedMaterialRules.importing(
                Self.asking(1, .newKeyMaterial), into: record, materials: materials, at: Self.now)
        }
        let rotation = try ImportedMaterialRules.rotating(record, materials: materials)
        #expect(rotation.rotatedTo == Self.id(2))
        (record, materials) = Self.applied(rotation)
        #expect(record.currentMaterialID == Self.id(2))
        #expect(materials.map { $0.state(in: record) } == [.nonCurrent, .current])
        do {
            _ = try ImportedMaterialRules.rotating(record, materials: materials)
            Issue.record("a rotation without pending material")
        } catch {
            #expect(error.code == .invalidState)
            #expect(error.message == "No available key material pending rotation for the key: \(record.arn).")
        }
    }

    @Test func aKeyMaterialIDMustNameTheMaterialAndGoesWithExistingOnly() throws {
        let (record, materials) = Self.applied(
            try ImportedMaterialRules.importing(Self.asking(1), into: Self.key(), materials: [], at: Self.now))
        #expect(throws: KMSError.self) {
            try ImportedMaterialRules.importing(
                Self.asking(1, .newKeyMaterial, requested: Self.id(1).hex), into: record, materials: materials,
                at: Self.now)
        }
        #expect(throws: KMSError.self) {
            try ImportedMaterialRules.importing(
                Self.asking(2, .existingKeyMaterial, requested: Self.id(1).hex), into: record, materials: materials,
                at: Self.now)
        }
        #expect(
            try ImportedMaterialRules.importing(
                Self.asking(1, .existingKeyMaterial, requested: Self.id(1).hex), into: record, materials: materials,
                at: Self.now
            ).materialID == Self.id(1))
    }

    @Test func onlySymmetricKeysTakeNewMaterial() throws {
        let (record, materials) = Self.applied(
            try ImportedMaterialRules.importing(
                Self.asking(1), into: Self.key(spec: .hmac256), materials: [], at: Self.now))
        do {
            _ = try ImportedMaterialRules.importing(
                Self.asking(2, .newKeyMaterial), into: record, materials: materials, at: Self.now)
            Issue.record("new material for an HMAC key")
        } catch {
            #expect(error.code == .unsupportedOperation)
        }
    }

    @Test func deletingBoundMaterialWaitsForItAndAPendingOneJustGoes() throws {
        var (record, materials) = try Self.currentAndPending()
        let dropped = try #require(try ImportedMaterialRules.deleting(Self.id(2), from: record, materials: materials))
        #expect(dropped.record.state == .enabled)
        #expect(dropped.materials.map(\.materialID) == [Self.id(1)])
        #expect(dropped.removed == [Self.id(2)])
        (record, materials) = Self.applied(dropped)
        (record, materials) = Self.applied(
            try ImportedMaterialRules.rotating(
                record,
                materials: try ImportedMaterialRules.importing(
                    Self.asking(2, .newKeyMaterial), into: record, materials: materials, at: Self.now
                ).materials))
        // The non-current one: the key waits for it.
        let deleted = try #require(try ImportedMaterialRules.deleting(Self.id(1), from: record, materials: materials))
        #expect(deleted.record.state == .pendingImport)
        #expect(deleted.record.currentMaterialID == Self.id(2))
        #expect(deleted.materials.map(\.isImported) == [false, true])
        (record, materials) = Self.applied(deleted)
        #expect(try ImportedMaterialRules.deleting(Self.id(1), from: record, materials: materials) == nil)
        #expect(throws: KMSError.self) {
            try ImportedMaterialRules.deleting(Self.id(9), from: record, materials: materials)
        }
        (record, materials) = Self.applied(
            try ImportedMaterialRules.importing(Self.asking(1), into: record, materials: materials, at: Self.now))
        #expect(record.state == .enabled)
        // The default deletes the current material, and clears DescribeKey's expiry.
        let current = try #require(try ImportedMaterialRules.deleting(nil, from: record, materials: materials))
        #expect(current.materialID == Self.id(2))
        #expect(current.record.state == .pendingImport)
        #expect(current.record.expirationModel == nil)
        // A key that never had material: nothing to delete.
        #expect(try ImportedMaterialRules.deleting(nil, from: Self.key(), materials: []) == nil)
    }

    @Test func aKeyImportedIntoBeforeTheListListsItsCurrentMaterial() {
        var record = Self.key()
        record.state = .enabled
        record.currentMaterialID = Self.id(1)
        record.expirationModel = .keyMaterialDoesNotExpire
        let listed = ImportedMaterialRules.materials(of: record, stored: [])
        #expect(listed.map(\.materialID) == [Self.id(1)])
        #expect(listed.first?.isImported == true)
    }

    @Test func descriptionsFollowTheModel() throws {
        try ImportedMaterialRules.validateDescription("key material 2026: v2/rotated_on-demand.")
        #expect(throws: KMSError.self) { try ImportedMaterialRules.validateDescription("") }
        #expect(throws: KMSError.self) { try ImportedMaterialRules.validateDescription("no*stars") }
        #expect(throws: KMSError.self) {
            try ImportedMaterialRules.validateDescription(String(repeating: "d", count: 257))
        }
        try ImportedMaterialRules.validateDescription(String(repeating: "d", count: 256))
    }
}
