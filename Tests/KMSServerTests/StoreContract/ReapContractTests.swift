import Foundation
import KMSDomain
import KMSServer
import KMSStore
import Testing

/// `KeyStoring.reapDue`'s contract: keys past their deletion date go with everything hanging
/// off them, leaving a tombstone; imported material past its ValidTo goes, its key kept.
@Suite struct ReapContractTests {
    @Test(arguments: StoreBackend.allCases)
    func aDueKeyGoesWithItsAliasesGrantsTagsRotationsAndLastUse(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let now = Date()
            let doomed = Fixture.key()
            try await stores.keys.insert(
                doomed, material: Fixture.material(1), alias: "alias/doomed", tags: [("team", "a")], audit: nil)
            let rotated = try #require(
                try await stores.rotations.rotate(
                    doomed, to: Fixture.material(2), kind: .onDemand, at: now.addingTimeInterval(-7200),
                    nextRotationDate: nil, audit: nil))
            #expect(try await stores.grants.insert(Fixture.grant("g1", keyID: doomed.keyID), audit: nil))
            try await stores.lastUsage.record([
                doomed.keyID: KeyUsageRecord(operation: "Decrypt", date: now.addingTimeInterval(-60), requestID: "r1")
            ])
            var scheduled = rotated
            scheduled.state = .pendingDeletion
            scheduled.pendingWindowInDays = 7
            scheduled.deletionDate = now.addingTimeInterval(-3600.000_000_7)
            _ = try #require(try await stores.keys.update(scheduled, audit: nil))

            var waiting = Fixture.key()
            waiting.state = .pendingDeletion
            waiting.pendingWindowInDays = 30
            waiting.deletionDate = now.addingTimeInterval(86_400)
            try await stores.keys.insert(
                waiting, material: Fixture.material(3), alias: "alias/waiting", tags: [], audit: nil)

            var expiring = Fixture.key(state: .enabled, origin: .external, material: MaterialID(repeating: 4))
            expiring.validTo = now.addingTimeInterval(-60)
            expiring.expirationModel = .keyMaterialExpires
            try await stores.keys.insert(expiring, material: Fixture.material(4), alias: nil, tags: [], audit: nil)

            let round = try await stores.keys.reapDue(serviceNow: now)
            #expect(round.held)
            #expect(round.deletedKeys.map(\.keyID) == [doomed.keyID])
            #expect(round.deletedKeys.map(\.arn) == [doomed.arn])
            #expect(round.expiredMaterial == [expiring.arn])
            #expect(round.cutoff <= now)

            #expect(try await stores.keys.fetch(keyID: doomed.keyID) == nil)
            #expect(
                try await stores.aliases.find(account: Fixture.account, region: Fixture.region, name: "alias/doomed")
                    == nil)
            #expect(try await stores.grants.forKey(doomed.keyID, after: nil, limit: 10).isEmpty)
            #expect(try await stores.grants.find(grantID: "g1") == nil)
            #expect(try await stores.rotations.tags(keyID: doomed.keyID).isEmpty)
            #expect(try await stores.rotations.rotations(keyID: doomed.keyID, offset: 0, limit: 10).isEmpty)
            #expect(try await stores.lastUsage.lastUse(keyID: doomed.keyID) == nil)
            #expect(
                try await stores.tombstones() == [
                    Tombstone(
                        arn: doomed.arn,
                        scheduledAt: Fixture.stored(scheduled.deletionDate!).addingTimeInterval(-7 * 86_400),
                        deletedAt: Fixture.stored(round.cutoff), rotations: 1)
                ])

            #expect(try await stores.keys.fetch(keyID: waiting.keyID)?.0.state == .pendingDeletion)
            #expect(
                try await stores.aliases.find(account: Fixture.account, region: Fixture.region, name: "alias/waiting")
                    != nil)
            let (expired, materials) = try #require(try await stores.keys.fetch(keyID: expiring.keyID))
            #expect(expired.state == .pendingImport)
            #expect(expired.validTo == nil)
            #expect(expired.expirationModel == .keyMaterialExpires)
            #expect(expired.version == 2)
            #expect(expired.currentMaterialID == MaterialID(repeating: 4))
            #expect(materials.isEmpty)

            let next = try await stores.keys.reapDue(serviceNow: now)
            #expect(next.deletedKeys.isEmpty && next.expiredMaterial.isEmpty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aWindowCountsAsPassedOnlyByTheEarlierClock(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            var key = Fixture.key(state: .pendingDeletion)
            key.pendingWindowInDays = 7
            key.deletionDate = Date().addingTimeInterval(600)
            try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
            // kmsd's clock an hour ahead: the database's still says no.
            let round = try await stores.keys.reapDue(serviceNow: Date().addingTimeInterval(3600))
            #expect(round.deletedKeys.isEmpty)
            #expect(round.cutoff == round.databaseNow)
            #expect(try await stores.keys.fetch(keyID: key.keyID) != nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aNonCurrentMaterialExpiresAloneAndAPendingOneGoes(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let now = Date()
            let key = Fixture.key(state: .enabled, origin: .external, material: MaterialID(repeating: 1))
            try await stores.keys.insert(key, material: Fixture.material(1), alias: nil, tags: [], audit: nil)
            func listed(_ byte: UInt8, validTo: Date?, pending: Bool = false) -> ImportedMaterial {
                ImportedMaterial(
                    materialID: MaterialID(repeating: byte), validTo: validTo,
                    expirationModel: validTo == nil ? .keyMaterialDoesNotExpire : .keyMaterialExpires,
                    isImported: true, isPendingRotation: pending,
                    importedAt: Fixture.created.addingTimeInterval(Double(byte)))
            }
            let current = listed(1, validTo: nil)
            let old = listed(2, validTo: now.addingTimeInterval(-60))
            let pending = listed(3, validTo: now.addingTimeInterval(-30), pending: true)
            _ = try #require(
                try await stores.keys.changeImportedMaterial(
                    ImportedMaterialChange(record: key, materials: [current, old]), adding: Fixture.material(2),
                    at: now, audit: nil))
            let stored = try #require(try await stores.keys.fetch(keyID: key.keyID)?.0)
            _ = try #require(
                try await stores.keys.changeImportedMaterial(
                    ImportedMaterialChange(record: stored, materials: [current, old, pending]),
                    adding: Fixture.material(3), at: now, audit: nil))
            let round = try await stores.keys.reapDue(serviceNow: now)
            #expect(round.expiredMaterial == [key.arn])
            let (reaped, blobs) = try #require(try await stores.keys.fetch(keyID: key.keyID))
            #expect(reaped.state == .pendingImport)
            #expect(reaped.currentMaterialID == MaterialID(repeating: 1))
            #expect(blobs == [Fixture.material(1)])
            let materials = try await stores.keys.importedMaterials(keyID: key.keyID)
            #expect(materials.map(\.materialID) == [MaterialID(repeating: 1), MaterialID(repeating: 2)])
            #expect(materials.map(\.isImported) == [true, false])
            #expect(materials.last?.validTo == nil)
            #expect(try await stores.keys.reapDue(serviceNow: now).expiredMaterial.isEmpty)
        }
    }
}
