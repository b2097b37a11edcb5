import Foundation
import KMSDomain
import KMSServer
import KMSStore
import Testing

/// `AliasStoring`'s contract.
@Suite struct AliasStoreContractTests {
    static let (account, region) = (Fixture.account, Fixture.region)

    @Test(arguments: StoreBackend.allCases)
    func anAliasNameIsTakenOnceAndMovesDeletesAndPages(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let (first, second) = (Fixture.key(), Fixture.key())
            try await stores.keys.insert(first, material: nil, alias: nil, tags: [], audit: nil)
            try await stores.keys.insert(second, material: nil, alias: nil, tags: [], audit: nil)
            let created = Fixture.created
            let audit = Fixture.audit("CreateAlias")
            #expect(
                try await stores.aliases.create(
                    account: Self.account, region: Self.region, name: "alias/app", keyID: first.keyID, now: created,
                    audit: audit))
            #expect(audit.committed)
            let refused = Fixture.audit("CreateAlias")
            #expect(
                !(try await stores.aliases.create(
                    account: Self.account, region: Self.region, name: "alias/app", keyID: second.keyID, now: created,
                    audit: refused)))
            #expect(!refused.committed)
            await #expect(throws: (any Error).self) {
                try await stores.aliases.create(
                    account: Self.account, region: Self.region, name: "alias/x", keyID: Fixture.newID(),
                    now: created, audit: nil)
            }
            let found = try #require(
                try await stores.aliases.find(account: Self.account, region: Self.region, name: "alias/app"))
            #expect(
                found
                    == AliasRecord(
                        name: "alias/app", arn: "arn:aws:kms:us-east-1:111122223333:alias/app",
                        targetKeyID: first.keyID, creationDate: Fixture.stored(created),
                        lastUpdatedDate: Fixture.stored(created)))
            let moved = created.addingTimeInterval(60)
            #expect(
                try await stores.aliases.update(
                    account: Self.account, region: Self.region, name: "alias/app", keyID: second.keyID,
                    now: moved, audit: nil))
            let updated = try await stores.aliases.find(account: Self.account, region: Self.region, name: "alias/app")
            #expect(updated?.targetKeyID == second.keyID)
            #expect(updated?.lastUpdatedDate == Fixture.stored(moved))
            #expect(updated?.creationDate == Fixture.stored(created))
            #expect(
                !(try await stores.aliases.update(
                    account: Self.account, region: Self.region, name: "alias/none", keyID: first.keyID, now: moved,
                    audit: nil)))

            for name in ["alias/b", "alias/B", "alias/a-1", "alias/a_1", "alias/c"] {
                #expect(
                    try await stores.aliases.create(
                        account: Self.account, region: Self.region, name: name, keyID: first.keyID, now: created,
                        audit: nil))
            }
            #expect(
                try await stores.aliases.create(
                    account: Self.account, region: "eu-west-1", name: "alias/b", keyID: first.keyID, now: created,
                    audit: nil))
            var names: [String] = []
            var marker: String?
            while true {
                let page = try await stores.aliases.list(
                    account: Self.account, region: Self.region, keyID: nil, after: marker, limit: 2)
                guard let last = page.last else { break }
                names += page.map(\.name)
                marker = last.name
            }
            // Byte order (the C collation): upper case first, "-" before "_".
            #expect(names == ["alias/B", "alias/a-1", "alias/a_1", "alias/app", "alias/b", "alias/c"])
            let ofSecond = try await stores.aliases.list(
                account: Self.account, region: Self.region, keyID: second.keyID, after: nil, limit: 10)
            #expect(ofSecond.map(\.name) == ["alias/app"])
            let ofNoKey = try await stores.aliases.list(
                account: Self.account, region: Self.region, keyID: Fixture.newID(), after: nil, limit: 10)
            #expect(ofNoKey.isEmpty)

            let deletion = Fixture.audit("DeleteAlias")
            #expect(
                try await stores.aliases.delete(
                    account: Self.account, region: Self.region, name: "alias/app", audit: deletion))
            #expect(deletion.committed)
            let again = Fixture.audit("DeleteAlias")
            #expect(
                !(try await stores.aliases.delete(
                    account: Self.account, region: Self.region, name: "alias/app", audit: again)))
            #expect(!again.committed)
            #expect(try await stores.aliases.find(account: Self.account, region: Self.region, name: "alias/app") == nil)
        }
    }
}

/// `GrantStoring`'s contract.
@Suite struct GrantStoreContractTests {
    @Test(arguments: StoreBackend.allCases)
    func grantsPageByIDAndAreFoundAndDeleted(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let (key, other) = (Fixture.key(), Fixture.key())
            try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
            try await stores.keys.insert(other, material: nil, alias: nil, tags: [], audit: nil)
            let retiring = "arn:aws:iam::111122223333:role/retirer"
            for id in ["g3", "g1", "g5", "g2", "g4"] {
                let grant = Fixture.grant(id, keyID: key.keyID, retiring: id == "g2" || id == "g4" ? retiring : nil)
                #expect(try await stores.grants.insert(grant, audit: nil))
            }
            #expect(
                try await stores.grants.insert(Fixture.grant("g0", keyID: other.keyID, retiring: retiring), audit: nil))
            await #expect(throws: (any Error).self) {
                try await stores.grants.insert(Fixture.grant("g1", keyID: other.keyID), audit: nil)
            }
            await #expect(throws: (any Error).self) {
                try await stores.grants.insert(Fixture.grant("gy", keyID: Fixture.newID()), audit: nil)
            }
            var ids: [String] = []
            var marker: String?
            while true {
                let page = try await stores.grants.forKey(key.keyID, after: marker, limit: 2)
                guard let last = page.last else { break }
                ids += page.map(\.grantID)
                marker = last.grantID
            }
            #expect(ids == ["g1", "g2", "g3", "g4", "g5"])
            #expect(try await stores.grants.forKey(Fixture.newID(), after: nil, limit: 10).isEmpty)
            let retirable = try await stores.grants.retirable(by: retiring, after: "g0", limit: 10)
            #expect(retirable.map(\.grant.grantID) == ["g2", "g4"])
            #expect(retirable.map(\.keyARN) == [key.arn, key.arn])
            // ListGrants' filters count before the limit: a page of matches, however far apart.
            var grantee = Fixture.grant("g6", keyID: key.keyID)
            let otherGrantee = "arn:aws:iam::111122223333:role/other"
            grantee.granteePrincipal = otherGrantee
            #expect(try await stores.grants.insert(grantee, audit: nil))
            let byGrantee = try await stores.grants.forKey(
                key.keyID, grantID: nil, granteePrincipal: otherGrantee, after: nil, limit: 1)
            #expect(byGrantee.map(\.grantID) == ["g6"])
            let byID = try await stores.grants.forKey(
                key.keyID, grantID: "g4", granteePrincipal: nil, after: "g1", limit: 1)
            #expect(byID.map(\.grantID) == ["g4"])
            #expect(
                try await stores.grants.forKey(
                    key.keyID, grantID: "g4", granteePrincipal: otherGrantee, after: nil, limit: 10
                ).isEmpty)
            #expect(try await stores.grants.delete(grantID: "g6", audit: nil))
            let stored = try #require(try await stores.grants.find(grantID: "g3"))
            var expected = Fixture.grant("g3", keyID: key.keyID)
            expected.creationDate = Fixture.stored(expected.creationDate)
            #expect(stored == expected)
            let found = try await stores.grants.find(grantIDs: ["g5", "g1", "g5", "missing"])
            #expect(Set(found.map(\.grantID)) == ["g1", "g5"])
            #expect(try await stores.grants.find(grantIDs: []).isEmpty)
            let audit = Fixture.audit("RetireGrant")
            #expect(try await stores.grants.delete(grantID: "g3", audit: audit))
            #expect(audit.committed)
            #expect(!(try await stores.grants.delete(grantID: "g3", audit: nil)))
            #expect(try await stores.grants.find(grantID: "g3") == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aKeyHoldsAtMostTheGrantLimit(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let (key, other) = (Fixture.key(), Fixture.key())
            try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
            try await stores.keys.insert(other, material: nil, alias: nil, tags: [], audit: nil)
            try await stores.fillGrants(key.keyID, GrantRecord.maximumPerKey - 1)
            #expect(try await stores.grants.insert(Fixture.grant("last", keyID: key.keyID), audit: nil))
            let refused = Fixture.audit("CreateGrant")
            #expect(!(try await stores.grants.insert(Fixture.grant("over", keyID: key.keyID), audit: refused)))
            #expect(!refused.committed)
            #expect(try await stores.grants.find(grantID: "over") == nil)
            // The limit is per key.
            #expect(try await stores.grants.insert(Fixture.grant("over", keyID: other.keyID), audit: nil))
            #expect(try await stores.grants.delete(grantID: "last", audit: nil))
            #expect(try await stores.grants.insert(Fixture.grant("again", keyID: key.keyID), audit: nil))
        }
    }
}
