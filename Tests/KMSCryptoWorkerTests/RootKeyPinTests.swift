import Crypto
import Foundation
import KMSCrypto
import KMSCryptoWorker
import KMSDomain
import KMSWorkerProto
import Testing

/// A root key added to the keyring waits, pinned out, until every kms-cryptod holds it: while
/// the old key is pinned, everything new is wrapped under the old key, the new one only
/// unwraps, and kmsd's re-wrap job (which targets the first id `describe` lists) leaves the old
/// key's material alone.
@Suite struct RootKeyPinTests {
    static let arn = "arn:aws:kms:us-east-1:111122223333:key/\(UUID().uuidString.lowercased())"

    static func generate(_ worker: CryptoWorker) async throws -> WorkerGenerateKeyMaterialResponse {
        var request = WorkerGenerateKeyMaterialRequest()
        request.keyID = String(Self.arn.suffix(36))
        request.keyArn = Self.arn
        request.kind = .symmetric256
        return try await worker.generateKeyMaterial(request)
    }

    static func rewrap(_ worker: CryptoWorker, _ made: WorkerGenerateKeyMaterialResponse) throws
        -> WorkerRewrapKeyMaterialResponse
    {
        var request = WorkerRewrapKeyMaterialRequest()
        request.key.keyID = String(Self.arn.suffix(36))
        request.key.keyArn = Self.arn
        request.key.material = made.material
        return try worker.rewrapKeyMaterial(request)
    }

    @Test func aPinnedOlderKeyWrapsEverythingNewAndTheNewKeyOnlyUnwraps() async throws {
        let old = RootKey.generate(now: Date(timeIntervalSince1970: 1))
        let new = RootKey.generate(now: Date(timeIntervalSince1970: 2))
        let ring = RootKeyring(keys: [old, new])
        #expect(ring.active.id == new.id, "unpinned, the newest is active")
        let pinned = try #require(ring.pinned(to: old.id))
        #expect(pinned.active.id == old.id)
        #expect(ring.pinned(to: RootKey.generate().id) == nil, "a key the ring does not hold cannot be pinned")

        let worker = CryptoWorker(keyring: pinned)
        #expect(worker.describe(WorkerDescribeRequest()).rootKeyIds == [old.id.description, new.id.description])
        let made = try await Self.generate(worker)
        #expect(made.rootKeyID == old.id.description)
        var checkpoint = WorkerMacAuditCheckpointRequest()
        checkpoint.checkpoint.chainID = "a"
        checkpoint.checkpoint.number = 1
        checkpoint.checkpoint.sequence = 1
        checkpoint.checkpoint.recordHash = Data(repeating: 1, count: 32)
        checkpoint.checkpoint.previousMac = Data(count: 32)
        #expect(try worker.macAuditCheckpoint(checkpoint).rootKeyID == old.id.description)
        #expect(try Self.rewrap(worker, made).changed == false, "material under the pinned key stays")

        // Material another process wrapped under the new key unwraps here, and is brought back
        // under the pinned key by a re-wrap.
        let elsewhere = CryptoWorker(keyring: ring)
        let newer = try await Self.generate(elsewhere)
        #expect(newer.rootKeyID == new.id.description)
        let back = try Self.rewrap(worker, newer)
        #expect(back.changed && back.rootKeyID == old.id.description)

        // The pin dropped (kms-cryptod restarted without --active-root-key): the newest again.
        worker.reload(ring)
        #expect(try await Self.generate(worker).rootKeyID == new.id.description)
        #expect(worker.describe(WorkerDescribeRequest()).rootKeyIds.first == new.id.description)
        await worker.shutdown()
        await elsewhere.shutdown()
    }
}
