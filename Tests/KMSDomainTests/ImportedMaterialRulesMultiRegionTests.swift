import Foundation
import KMSDomain
import Testing

/// The family rules of imported material in multi-Region keys (ImportedMaterialRules+MultiRegion).
@Suite struct ImportedMaterialRulesMultiRegionTests {
    typealias Rules = ImportedMaterialRulesTests

    static func replica() -> KeyRecord {
        var record = Rules.key()
        record.multiRegion = MultiRegionConfiguration(
            keyType: .replica, primaryRegion: "us-east-1", replicaRegions: ["eu-west-1"])
        return record
    }

    @Test func aReplicaTakesNewMaterialOnlyAsTheFamilysFirst() throws {
        // Nothing bound anywhere yet: the replica may bind the first material.
        let (record, materials) = Rules.applied(
            try ImportedMaterialRules.importing(
                Rules.asking(1, .newKeyMaterial), into: Self.replica(), materials: [], at: Rules.now))
        #expect(record.currentMaterialID == Rules.id(1) && record.state == .enabled)
        #expect {
            try ImportedMaterialRules.importing(
                Rules.asking(2, .newKeyMaterial), into: record, materials: materials, at: Rules.now)
        } throws: { ($0 as? KMSError)?.code == .unsupportedOperation }
    }

    @Test func listingBindsTheFirstMaterialAndListsLaterOnesPendingImport() throws {
        let (primary, materials) = try Rules.currentAndPending()
        var (replica, listed) = Rules.applied(
            ImportedMaterialRules.listing(materials[0], in: Self.replica(), materials: []))
        #expect(replica.currentMaterialID == Rules.id(1) && replica.state == .pendingImport)
        #expect(listed.map(\.isImported) == [false] && listed[0].validTo == nil)
        (replica, listed) = Rules.applied(ImportedMaterialRules.listing(materials[1], in: replica, materials: listed))
        #expect(listed.map(\.isPendingRotation) == [false, true] && replica.currentMaterialID == Rules.id(1))
        // Listed again: nothing changes.
        #expect(ImportedMaterialRules.listing(materials[1], in: replica, materials: listed).materials == listed)
        #expect(
            ImportedMaterialRules.state(of: materials[1], in: primary, replicas: [listed])
                == .pendingMultiRegionImportAndRotation)
        #expect(ImportedMaterialRules.state(of: materials[0], in: primary, replicas: [listed]) == .current)
    }

    @Test func theRotationWaitsForEveryReplica() throws {
        let (primary, materials) = try Rules.currentAndPending()
        var (replica, listed) = Rules.applied(
            ImportedMaterialRules.listing(materials[0], in: Self.replica(), materials: []))
        (replica, listed) = Rules.applied(ImportedMaterialRules.listing(materials[1], in: replica, materials: listed))
        #expect {
            try ImportedMaterialRules.rotatingReplicas(to: Rules.id(2), [(replica, listed)])
        } throws: { ($0 as? KMSError)?.code == .invalidState }
        for byte: UInt8 in [1, 2] {
            (replica, listed) = Rules.applied(
                try ImportedMaterialRules.importing(
                    Rules.asking(byte, .existingKeyMaterial), into: replica, materials: listed, at: Rules.now))
        }
        #expect(ImportedMaterialRules.state(of: materials[1], in: primary, replicas: [listed]) == .pendingRotation)
        let parts = try ImportedMaterialRules.rotatingReplicas(to: Rules.id(2), [(replica, listed)])
        #expect(parts.map(\.record.currentMaterialID) == [Rules.id(2)] && parts.map(\.rotatedTo) == [Rules.id(2)])
    }
}
