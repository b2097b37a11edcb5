import Foundation
import KMSDomain
import KMSServer
import KMSStore
import Testing

/// `RotationStoring`'s contract: rotations, the due list, tags and their limit.
@Suite struct RotationStoreContractTests {
    @Test(arguments: StoreBackend.allCases)
    func rotationsAreRecordedInOrderAndOnlyAtTheVersionRead(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let key = Fixture.key()
            try await stores.keys.insert(key, material: Fixture.material(1), alias: nil, tags: [], audit: nil)
            let first = Fixture.created.addingTimeInterval(100)
            let next = Fixture.created.addingTimeInterval(86_400 * 365)
            let audit = Fixture.audit("RotateKeyOnDemand")
            let once = try #require(
                try await stores.rotations.rotate(
                    key, to: Fixture.material(5), kind: .onDemand, at: first, nextRotationDate: next, audit: audit))
            #expect(audit.committed)
            #expect(once.version == 2 && once.currentMaterialID == MaterialID(repeating: 5))
            #expect(once.nextRotationDate == Fixture.stored(next))
            #expect(
                try await stores.rotations.rotate(
                    key, to: Fixture.material(6), kind: .automatic, at: first, nextRotationDate: nil, audit: nil) == nil
            )
            // The same material again violates the primary keys: nothing changes.
            await #expect(throws: (any Error).self) {
                try await stores.rotations.rotate(
                    once, to: Fixture.material(5), kind: .automatic, at: first, nextRotationDate: nil, audit: nil)
            }
            #expect(try await stores.keys.fetch(keyID: key.keyID)?.0.version == 2)
            // Same date: by material id.
            _ = try #require(
                try await stores.rotations.rotate(
                    once, to: Fixture.material(3), kind: .automatic, at: first, nextRotationDate: nil, audit: nil))
            let all = try await stores.rotations.rotations(keyID: key.keyID, offset: 0, limit: 10)
            #expect(all.map(\.materialID) == [MaterialID(repeating: 3), MaterialID(repeating: 5)])
            #expect(all.map(\.kind) == [.automatic, .onDemand])
            #expect(all.map(\.date) == [Fixture.stored(first), Fixture.stored(first)])
            #expect(
                try await stores.rotations.rotations(keyID: key.keyID, offset: 1, limit: 1).map(\.materialID)
                    == [MaterialID(repeating: 5)])
            #expect(try await stores.rotations.onDemandRotationCount(keyID: key.keyID) == 1)
            #expect(try await stores.rotations.onDemandRotationCount(keyID: Fixture.newID()) == 0)
            #expect(Set(try await stores.keys.fetch(keyID: key.keyID)?.1 ?? []).count == 3)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func dueListsEnabledKeysWhoseDatePassedTheLongestDueFirst(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let now = Fixture.created.addingTimeInterval(86_400)
            func insert(_ state: KeyState, next: TimeInterval) async throws -> KeyID {
                var key = Fixture.key(state: state)
                key.nextRotationDate = now.addingTimeInterval(next)
                try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
                return key.keyID
            }
            let later = try await insert(.enabled, next: -3600)
            let earlier = try await insert(.enabled, next: -7200)
            _ = try await insert(.disabled, next: -9000)
            _ = try await insert(.enabled, next: 60)
            let exactly = try await insert(.enabled, next: 0)
            #expect(try await stores.rotations.due(now: now, limit: 10) == [earlier, later, exactly])
            #expect(try await stores.rotations.due(now: now, limit: 1) == [earlier])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func tagsAreReplacedAndLimitedAllOrNothing(_ backend: StoreBackend) async throws {
        try await backend.run { stores in
            let key = Fixture.key()
            try await stores.keys.insert(key, material: nil, alias: nil, tags: [], audit: nil)
            let fifty = (0..<Tags.maximumPerKey).map { (key: String(format: "k%02d", $0), value: "v") }
            #expect(try await stores.rotations.putTagsWithinLimit(keyID: key.keyID, fifty, audit: nil))
            let over = Fixture.audit("TagResource")
            #expect(!(try await stores.rotations.putTagsWithinLimit(keyID: key.keyID, [("z", "1")], audit: over)))
            #expect(!over.committed)
            #expect(try await stores.rotations.tags(keyID: key.keyID).count == Tags.maximumPerKey)
            // Replacing never counts; a key named twice keeps the last value.
            let replace = Fixture.audit("TagResource")
            #expect(
                try await stores.rotations.putTagsWithinLimit(
                    keyID: key.keyID, [("k00", "a"), ("k00", "b")], audit: replace))
            #expect(replace.committed)
            let removal = Fixture.audit("UntagResource")
            try await stores.rotations.removeTags(keyID: key.keyID, ["k01", "k02", "absent"], audit: removal)
            #expect(removal.committed)
            #expect(
                !(try await stores.rotations.putTagsWithinLimit(
                    keyID: key.keyID, [("x", "1"), ("y", "1"), ("z", "1")], audit: nil)))
            #expect(
                try await stores.rotations.putTagsWithinLimit(keyID: key.keyID, [("y", "1"), ("Z", "1")], audit: nil))
            let tags = try await stores.rotations.tags(keyID: key.keyID)
            #expect(tags.count == Tags.maximumPerKey)
            #expect(tags.first.map { "\($0.key)=\($0.value)" } == "Z=1")  // bytes order: "Z" before "k"
            #expect(tags.first { $0.key == "k00" }?.value == "b")
            await #expect(throws: (any Error).self) {
                try await stores.rotations.putTagsWithinLimit(keyID: Fixture.newID(), [("a", "1")], audit: nil)
            }
        }
    }
}
