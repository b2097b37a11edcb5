import Foundation
import KMSDomain
import KMSServer
import KMSStore
import Testing

/// `KeyStoring.fetchWhole`'s contract: the one read behind a key cache miss gives what the
/// separate reads give, on PostgreSQL and in memory alike.
@Suite struct WholeKeyContractTests {
    @Test(arguments: StoreBackend.allCases)
    func aWholeKeyIsItsPartsReadApart(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let key = Fixture.key()
            let id = key.keyID
            try await stores.keys.insert(
                key, material: Fixture.material(1), alias: "alias/b", tags: [("b", "2"), ("a", "ä,1")], audit: nil)
            let (inserted, _) = try #require(try await stores.keys.fetch(keyID: id))
            let rotated = try #require(
                try await stores.rotations.rotate(
                    inserted, to: Fixture.material(2),
                    kind: .onDemand, at: Fixture.created.addingTimeInterval(60), nextRotationDate: nil, audit: nil))
            // Nullable columns both ways, and operations arrays of different lengths.
            var named = Fixture.grant("g2", keyID: id, retiring: "arn:aws:iam::111122223333:role/retirer")
            named.name = "named, with a comma"
            named.encryptionContextEquals = ["a": "1"]
            named.encryptionContextSubset = nil
            named.operations = ["Decrypt", "Encrypt", "GenerateDataKey", "ReEncryptFrom"]
            var lone = Fixture.grant("g1", keyID: id)
            lone.operations = ["Sign"]
            #expect(try await stores.grants.insert(named, audit: nil))
            #expect(try await stores.grants.insert(lone, audit: nil))
            for name in ["alias/a", "alias/C"] {
                #expect(
                    try await stores.aliases.create(
                        account: key.account, region: key.region, name: name, keyID: id, now: Fixture.created,
                        audit: nil))
            }
            // Not this key's: another key's grant, tag and alias.
            let other = Fixture.key()
            try await stores.keys.insert(
                other, material: Fixture.material(3), alias: "alias/other", tags: [("x", "y")], audit: nil)
            #expect(try await stores.grants.insert(Fixture.grant("g0", keyID: other.keyID), audit: nil))

            let whole = try #require(try await stores.keys.fetchWhole(keyID: id))
            let (record, materials) = try #require(try await stores.keys.fetch(keyID: id))
            #expect(whole.record == record)
            #expect(whole.record == rotated)
            #expect(Set(whole.materials) == Set(materials))
            #expect(Set(whole.materials) == [Fixture.material(1), Fixture.material(2)])
            #expect(whole.grants == (try await stores.grants.forKey(id, after: nil, limit: GrantRecord.maximumPerKey)))
            #expect(whole.grants.map(\.grantID) == ["g1", "g2"])
            #expect(whole.grants.map(\.operations) == [lone.operations, named.operations])
            #expect(whole.grants[1].name == "named, with a comma")
            #expect(whole.grants[1].encryptionContextSubset == nil)
            #expect(whole.grants[0].retiringPrincipal == nil)
            let aliases = try await stores.aliases.list(
                account: key.account, region: key.region, keyID: id, after: nil, limit: WholeKey.aliasLimit)
            #expect(whole.aliases == aliases.map(\.name))
            #expect(whole.aliases == ["alias/C", "alias/a", "alias/b"])
            #expect(whole.tags.map { "\($0.key)=\($0.value)" } == ["a=ä,1", "b=2"])
            #expect(
                whole.tags.map { "\($0.key)=\($0.value)" }
                    == (try await stores.rotations.tags(keyID: id)).map { "\($0.key)=\($0.value)" })
        }
    }

    /// CreateKey caches the key it inserted as it went in (KeyCache's `CachedKey(created:)`): what
    /// a read gives back must be that, field for field.
    @Test(arguments: StoreBackend.allCases)
    func aKeyReadsBackWholeAsItWentIn(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            var symmetric = Fixture.key()
            symmetric.description = "payments, \"quoted\" and ü"
            symmetric.policy = #"{"Version":"2012-10-17","Statement":[]}"#
            var hmac = Fixture.key(material: MaterialID(repeating: 5))
            (hmac.spec, hmac.usage, hmac.description) = (.hmac256, .generateVerifyMac, "")
            var signing = Fixture.key(material: MaterialID(repeating: 6))
            (signing.spec, signing.usage) = (.eccNistP256, .signVerify)
            let pending = Fixture.key(state: .pendingImport, origin: .external, material: nil)
            let cases: [(KeyRecord, StoredMaterial?, [(key: String, value: String)])] = [
                (symmetric, Fixture.material(1), [("team", "a"), ("env", "prod")]),
                (hmac, Fixture.material(5), []), (signing, Fixture.material(6), [("k", "")]), (pending, nil, []),
            ]
            for (made, material, tags) in cases {
                // Dated as CreateKey dates a key, in whole seconds (a stored date keeps microseconds).
                var key = made
                key.creationDate = Date(timeIntervalSince1970: Fixture.created.timeIntervalSince1970.rounded(.down))
                try await stores.keys.insert(key, material: material, alias: nil, tags: tags, audit: nil)
                let whole = try #require(try await stores.keys.fetchWhole(keyID: key.keyID))
                #expect(whole.record == key)
                #expect(whole.materials == (material.map { [$0] } ?? []))
                #expect(
                    whole.tags.map { "\($0.key)=\($0.value)" }
                        == tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                #expect(whole.grants.isEmpty && whole.aliases.isEmpty)
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aKeyWithNothingHangingOffItOrNoKeyAtAll(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let pending = Fixture.key(state: .pendingImport, origin: .external, material: nil)
            try await stores.keys.insert(pending, material: nil, alias: nil, tags: [], audit: nil)
            let whole = try #require(try await stores.keys.fetchWhole(keyID: pending.keyID))
            #expect(whole.record == (try await stores.keys.fetch(keyID: pending.keyID))?.0)
            #expect(whole.materials.isEmpty && whole.grants.isEmpty && whole.aliases.isEmpty && whole.tags.isEmpty)
            #expect(try await stores.keys.fetchWhole(keyID: Fixture.newID()) == nil)
            // A custom key store's token key: its material has no blob and no root key (NULL).
            let token = StoredMaterial.tokenKey(MaterialID(repeating: 9))
            let inToken = Fixture.key(material: token.materialID)
            try await stores.keys.insert(inToken, material: token, alias: nil, tags: [], audit: nil)
            #expect(try await stores.keys.fetchWhole(keyID: inToken.keyID)?.materials == [token])
        }
    }
}
