import Foundation
import KMSDomain
import KMSServer
import KMSStore
import Testing

/// `KeyStoring`'s contract, on PostgreSQL and in memory alike.
@Suite struct KeyStoreContractTests {
    @Test(arguments: StoreBackend.allCases)
    func insertThenFetchGivesTheKeyAsStored(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let id = Fixture.newID()
            var key = Fixture.key(id)
            key.nextRotationDate = Fixture.created.addingTimeInterval(86_400)
            let audit = Fixture.audit("CreateKey")
            let inserted = try await stores.keys.insert(
                key, material: Fixture.material(1), alias: "alias/app", tags: [("b", "2"), ("a", "1")], audit: audit)
            #expect(inserted)
            #expect(audit.committed)
            let (stored, materials) = try #require(try await stores.keys.fetch(keyID: id))
            var expected = key
            expected.creationDate = Fixture.stored(key.creationDate)
            expected.nextRotationDate = Fixture.stored(key.nextRotationDate!)
            #expect(stored == expected)
            #expect(materials == [Fixture.material(1)])
            #expect(try await stores.rotations.tags(keyID: id).map { "\($0.key)=\($0.value)" } == ["a=1", "b=2"])
            let alias = try #require(
                try await stores.aliases.find(account: Fixture.account, region: Fixture.region, name: "alias/app"))
            #expect(alias.targetKeyID == id)
            #expect(alias.creationDate == expected.creationDate)
            #expect(alias.arn == "arn:aws:kms:us-east-1:111122223333:alias/app")
            #expect(try await stores.keys.fetch(keyID: Fixture.newID()) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func anInsertIsAllOrNothing(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let first = Fixture.key()
            try await stores.keys.insert(
                first, material: Fixture.material(1), alias: "alias/taken", tags: [], audit: nil)
            let second = Fixture.key()
            let audit = Fixture.audit("CreateKey")
            let inserted = try await stores.keys.insert(
                second, material: Fixture.material(2), alias: "alias/taken", tags: [("t", "v")], audit: audit)
            #expect(!inserted)
            #expect(!audit.committed)
            #expect(try await stores.keys.fetch(keyID: second.keyID) == nil)
            #expect(try await stores.rotations.tags(keyID: second.keyID).isEmpty)
            // The same name in another region is another alias.
            let elsewhere = Fixture.key(region: "eu-west-1")
            #expect(try await stores.keys.insert(elsewhere, material: nil, alias: "alias/taken", tags: [], audit: nil))
            // Refused by the database: a key id or ARN taken, a tag key twice.
            await #expect(throws: (any Error).self) {
                try await stores.keys.insert(first, material: nil, alias: nil, tags: [], audit: nil)
            }
            let twice = Fixture.key()
            await #expect(throws: (any Error).self) {
                try await stores.keys.insert(
                    twice, material: nil, alias: nil, tags: [("t", "1"), ("t", "2")], audit: nil)
            }
            #expect(try await stores.keys.fetch(keyID: twice.keyID) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func anUpdateAppliesOnlyAtTheVersionItRead(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let key = Fixture.key()
            try await stores.keys.insert(key, material: Fixture.material(1), alias: nil, tags: [], audit: nil)
            var changed = key
            changed.description = "changed"
            changed.state = .pendingDeletion
            changed.deletionDate = Fixture.created.addingTimeInterval(7 * 86_400)
            changed.pendingWindowInDays = 7
            changed.arn = "arn:aws:kms:us-east-1:111122223333:key/ignored"
            let audit = Fixture.audit("ScheduleKeyDeletion")
            let stored = try #require(try await stores.keys.update(changed, audit: audit))
            #expect(audit.committed)
            #expect(stored.version == 2)
            #expect(stored.description == "changed")
            #expect(stored.deletionDate == Fixture.stored(changed.deletionDate!))
            #expect(stored.arn == key.arn)
            #expect(try await stores.keys.fetch(keyID: key.keyID)?.0 == stored)
            let stale = Fixture.audit("CancelKeyDeletion")
            #expect(try await stores.keys.update(key, audit: stale) == nil)
            #expect(!stale.committed)
            #expect(try await stores.keys.fetch(keyID: key.keyID)?.0.version == 2)
            let missing = Fixture.key()
            #expect(try await stores.keys.update(missing, audit: nil) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func listPagesByKeyIDWithinOneAccountAndRegion(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            var ids: [KeyID] = []
            for _ in 0..<5 {
                let key = Fixture.key()
                ids.append(key.keyID)
                try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
            }
            try await stores.keys.insert(
                Fixture.key(region: "eu-west-1"), material: nil, alias: nil, tags: [], audit: nil)
            try await stores.keys.insert(
                Fixture.key(account: "444455556666"), material: nil, alias: nil, tags: [], audit: nil)
            var listed: [KeyID] = []
            var marker: KeyID?
            while true {
                let page = try await stores.keys.list(
                    account: Fixture.account, region: Fixture.region, after: marker, limit: 2)
                #expect(page.count <= 2)
                guard let last = page.last else { break }
                listed += page.map(\.keyID)
                marker = last.keyID
            }
            #expect(listed == ids.sorted())
            let fromStart = try await stores.keys.list(
                account: Fixture.account, region: Fixture.region, after: nil, limit: 10)
            #expect(fromStart.map(\.keyID) == ids.sorted())
            #expect(
                try await stores.keys.list(account: Fixture.account, region: Fixture.region, after: nil, limit: 0)
                    .isEmpty)
            await #expect(throws: (any Error).self) {
                try await stores.keys.list(account: Fixture.account, region: Fixture.region, after: nil, limit: -1)
            }
        }
    }

    /// PostgreSQL orders uuid by its bytes; `KeyID`'s order, and the order of the lowercase text
    /// that ListKeys' markers were compared as before, must be the same, digits against letters
    /// in every byte's high and low half included.
    @Test(arguments: StoreBackend.allCases)
    func listOrdersKeyIDsAsKeyIDAndTheirTextDo(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let texts = [
                "a0000000-0000-4000-8000-000000000000", "90000000-0000-4000-8000-000000000000",
                "0a000000-0000-4000-8000-000000000000", "09000000-0000-4000-8000-000000000000",
                "00000000-0000-4000-8000-0000000000f0", "00000000-0000-4000-8000-00000000000f",
                "00000000-0000-4000-8000-000000000010", "ffffffff-ffff-4fff-bfff-ffffffffffff",
            ]
            let ids = try texts.map { try #require(KeyID($0)) }
            for id in ids {
                try await stores.keys.insert(Fixture.key(id), material: nil, alias: nil, tags: [], audit: nil)
            }
            let listed = try await stores.keys.list(
                account: Fixture.account, region: Fixture.region, after: nil, limit: 100
            ).map(\.keyID)
            #expect(listed == ids.sorted())
            #expect(listed.map(\.description) == texts.sorted())
            let afterMiddle = try await stores.keys.list(
                account: Fixture.account, region: Fixture.region, after: KeyID(texts.sorted()[3]), limit: 100)
            #expect(afterMiddle.map(\.keyID.description) == Array(texts.sorted().dropFirst(4)))
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func importedMaterialIsReplacedAndDeleted(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let key = Fixture.key(state: .pendingImport, origin: .external, material: nil)
            try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
            #expect(try await stores.keys.fetch(keyID: key.keyID)?.1 == [])
            #expect(try await stores.keys.importedMaterials(keyID: key.keyID) == [])
            var imported = key
            imported.state = .enabled
            imported.currentMaterialID = MaterialID(repeating: 9)
            imported.validTo = Fixture.created.addingTimeInterval(3600)
            imported.expirationModel = .keyMaterialExpires
            imported.description = "not stored by an import"
            let listed = ImportedMaterial(
                materialID: MaterialID(repeating: 9), description: "v1", validTo: imported.validTo,
                expirationModel: .keyMaterialExpires, isImported: true, isPendingRotation: false,
                importedAt: Fixture.created)
            let change = ImportedMaterialChange(record: imported, materials: [listed])
            let first = try #require(
                try await stores.keys.changeImportedMaterial(
                    change, adding: Fixture.material(9), at: Fixture.created, audit: nil))
            #expect(first.state == .enabled)
            #expect(first.currentMaterialID == MaterialID(repeating: 9))
            #expect(first.validTo == Fixture.stored(imported.validTo!))
            #expect(first.description == "a key")
            #expect(
                try await stores.keys.changeImportedMaterial(change, adding: nil, at: Fixture.created, audit: nil)
                    == nil)
            var stored = listed
            stored.validTo = Fixture.stored(listed.validTo!)
            stored.importedAt = Fixture.stored(listed.importedAt)
            #expect(try await stores.keys.importedMaterials(keyID: key.keyID) == [stored])
            var again = first
            again.validTo = nil
            again.expirationModel = .keyMaterialDoesNotExpire
            var pending = stored
            pending.materialID = MaterialID(repeating: 8)
            pending.isPendingRotation = true
            pending.importedAt = Fixture.stored(Fixture.created.addingTimeInterval(60))
            let second = try #require(
                try await stores.keys.changeImportedMaterial(
                    ImportedMaterialChange(record: again, materials: [stored, pending]),
                    adding: Fixture.material(9, blob: 1), at: Fixture.created, audit: nil))
            #expect(second.version == 3)
            #expect(try await stores.keys.fetch(keyID: key.keyID)?.1 == [Fixture.material(9, blob: 1)])
            #expect(try await stores.keys.importedMaterials(keyID: key.keyID) == [stored, pending])
            // A rotation to the pending material, recorded with the change.
            var rotatedRecord = second
            rotatedRecord.currentMaterialID = pending.materialID
            var wasPending = pending
            wasPending.isPendingRotation = false
            let rotated = try #require(
                try await stores.keys.changeImportedMaterial(
                    ImportedMaterialChange(
                        record: rotatedRecord, materials: [stored, wasPending], rotatedTo: pending.materialID),
                    adding: Fixture.material(8), at: Fixture.created, audit: nil))
            #expect(rotated.currentMaterialID == pending.materialID)
            #expect(
                try await stores.rotations.rotations(keyID: key.keyID, offset: 0, limit: 10).map(\.materialID)
                    == [pending.materialID])
            let audit = Fixture.audit("DeleteImportedKeyMaterial")
            var deletedRecord = rotated
            deletedRecord.state = .pendingImport
            var gone = stored
            gone.isImported = false
            gone.validTo = nil
            let deleted = try #require(
                try await stores.keys.changeImportedMaterial(
                    ImportedMaterialChange(
                        record: deletedRecord, materials: [gone, wasPending], removed: [stored.materialID]),
                    adding: nil, at: Fixture.created, audit: audit))
            #expect(audit.committed)
            #expect(deleted.state == .pendingImport)
            #expect(try await stores.keys.fetch(keyID: key.keyID)?.1 == [Fixture.material(8)])
            #expect(try await stores.keys.importedMaterials(keyID: key.keyID) == [gone, wasPending])
        }
    }
}
