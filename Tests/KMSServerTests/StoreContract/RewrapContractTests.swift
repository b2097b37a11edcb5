import Foundation
import KMSDomain
import KMSServer
import KMSStore
import Testing

/// `RewrapStoring`'s contract.
@Suite struct RewrapStoreContractTests {
    static let oldRoot = UUID(uuidString: "11111111-2222-4333-8444-555555555555")!
    static let newRoot = Fixture.material(1).rootKeyID!

    @Test(arguments: StoreBackend.allCases)
    func oneJobRunsAtATimeAndCountsItsProgress(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            #expect(try await stores.rewraps.latest() == nil)
            let audit = Fixture.audit("StartRootKeyRewrap")
            let (job, started) = try await stores.rewraps.start(requestedBy: "ops", at: Fixture.created, audit: audit)
            #expect(started && audit.committed)
            #expect(job.requestedAt == Fixture.stored(Fixture.created) && job.finishedAt == nil)
            let again = Fixture.audit("StartRootKeyRewrap")
            let (running, startedAgain) = try await stores.rewraps.start(
                requestedBy: "ops", at: Fixture.created, audit: again)
            #expect(!startedAgain && !again.committed && running.id == job.id)

            try await stores.rewraps.progress(job: job.id, rewrapped: 3, unavailable: 1, finished: nil)
            let finished = Fixture.created.addingTimeInterval(5)
            try await stores.rewraps.progress(job: job.id, rewrapped: 2, unavailable: 0, finished: finished)
            let done = try #require(try await stores.rewraps.latest())
            #expect(done.id == job.id && done.rewrapped == 5 && done.unavailable == 0)
            #expect(done.finishedAt == Fixture.stored(finished))

            let (next, startedNext) = try await stores.rewraps.start(
                requestedBy: "ops", at: finished, audit: nil)
            #expect(startedNext && next.id > job.id && next.rewrapped == 0)
            #expect(try await stores.rewraps.latest()?.id == next.id)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func blobsUnderOlderRootKeysAreListedAndReplacedOnlyIfUnchanged(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let current = Fixture.key()
            try await stores.keys.insert(current, material: Fixture.material(1), alias: nil, tags: [], audit: nil)
            let old = Fixture.key(material: MaterialID(repeating: 2))
            let stale = StoredMaterial(
                materialID: MaterialID(repeating: 2), wrapped: [2, 0, 0xAA], rootKeyID: Self.oldRoot)
            try await stores.keys.insert(old, material: stale, alias: nil, tags: [], audit: nil)
            // A token key's material (AWS_CLOUDHSM) is under no root key: never listed, never counted.
            let inToken = Fixture.key(material: MaterialID(repeating: 3))
            try await stores.keys.insert(
                inToken, material: .tokenKey(MaterialID(repeating: 3)), alias: nil, tags: [], audit: nil)
            let tokenMaterial = try #require(try await stores.keys.fetch(keyID: inToken.keyID)?.1.first)
            #expect(tokenMaterial.isTokenKey && tokenMaterial.wrapped.isEmpty)

            let account = AccountRecord(accountID: Fixture.account, name: "ops", creationDate: Fixture.created)
            let root = PrincipalRecord(
                arn: "arn:aws:iam::\(Fixture.account):root", accountID: Fixture.account, kind: .root, name: "",
                isAdmin: true, creationDate: Fixture.created)
            #expect(try await stores.identities.insertAccount(account, root: root, audit: nil))
            for (id, rootKeyID) in [("AK1", Self.oldRoot), ("AK2", Self.newRoot)] {
                let key = AccessKeyRecord(
                    accessKeyID: id, principalARN: root.arn, status: .active, wrappedSecret: [7, 7],
                    creationDate: Fixture.created)
                #expect(try await stores.identities.insertAccessKey(key, rootKeyID: rootKeyID, audit: nil) == .inserted)
            }
            var usage = try await stores.rewraps.usage()
            #expect(usage.count == 2)
            #expect(usage[Self.oldRoot]?.materials == 1 && usage[Self.oldRoot]?.secrets == 1)
            #expect(usage[Self.newRoot]?.materials == 1 && usage[Self.newRoot]?.secrets == 1)

            let materials = try await stores.rewraps.materials(notUnder: Self.newRoot, skipping: [], limit: 10)
            #expect(materials.map(\.keyARN) == [old.arn] && materials.map(\.wrapped) == [[2, 0, 0xAA]])
            #expect(
                try await stores.rewraps.materials(notUnder: Self.newRoot, skipping: [Self.oldRoot], limit: 10)
                    .isEmpty)
            #expect(try await stores.rewraps.materials(notUnder: Self.newRoot, skipping: [], limit: 0).isEmpty)
            let row = try #require(materials.first)
            #expect(try await stores.rewraps.replaceMaterial(row, wrapped: [9], rootKeyID: Self.newRoot))
            #expect(!(try await stores.rewraps.replaceMaterial(row, wrapped: [8], rootKeyID: Self.newRoot)))
            #expect(try await stores.keys.fetch(keyID: old.keyID)?.1.map(\.wrapped) == [[9]])

            let secrets = try await stores.rewraps.secrets(notUnder: Self.newRoot, skipping: [], limit: 10)
            #expect(secrets.map(\.accessKeyID) == ["AK1"] && secrets.map(\.principalARN) == [root.arn])
            let secret = try #require(secrets.first)
            #expect(try await stores.rewraps.replaceSecret(secret, wrapped: [6], rootKeyID: Self.newRoot))
            #expect(!(try await stores.rewraps.replaceSecret(secret, wrapped: [5], rootKeyID: Self.newRoot)))
            #expect(try await stores.identities.accessKey("AK1")?.wrappedSecret == [6])
            usage = try await stores.rewraps.usage()
            #expect(usage.count == 1 && usage[Self.newRoot]?.materials == 2 && usage[Self.newRoot]?.secrets == 2)
        }
    }
}
