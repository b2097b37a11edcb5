import Foundation
import KMSDomain
import KMSTestSupport
import KMSXKS
import Testing

@testable import KMSServer

/// XKSClientCache's decisions on a manual clock (no proxy: a client connects only when asked to
/// send): what is kept, when it must be read again, and when it is dropped.
@Suite struct XKSClientCacheStateTests {
    static func store(version: Int64 = 1) -> CustomKeyStoreRecord {
        CustomKeyStoreRecord(
            id: CustomKeyStoreID("cks-0123456789abcdefa")!, account: "111122223333", region: "us-east-1",
            name: "cached", type: .externalKeyStore, connectionState: .connected,
            xks: XksProxySettings(
                uriEndpoint: "https://127.0.0.1:1", uriPath: "/kms/xks/v1", connectivity: .publicEndpoint,
                accessKeyID: "ABCDEFGHIJKLMNOPQRST234567", wrappedSecret: [1]),
            creationDate: Date(timeIntervalSince1970: 0), version: version)
    }

    static func client() throws -> XKSClient {
        try XKSClient(
            configuration: XKSClientConfiguration(
                endpoint: "https://127.0.0.1:1", uriPath: "/kms/xks/v1",
                credentials: XKSCredentials(accessKeyID: "ABCDEFGHIJKLMNOPQRST234567", secretAccessKey: [1]),
                region: "us-east-1"))
    }

    @Test func aClientIsKeptWhileHeardAndFreshAndDroppedOnAChangeOrWhenIdle() async throws {
        let manual = ManualClock()
        let cache = XKSClientCache(lifetime: .seconds(30), clock: ServiceClock(manual, wall: { manual.wallNow }))
        let store = Self.store()
        let first = try Self.client()
        // Nothing is kept while the change listener is down.
        #expect(cache.keep(first, for: store, loadedAt: cache.generation) === first)
        #expect(cache.entry(store.id) == nil)
        cache.setListening(true)

        // A load that began before a change is not kept.
        let before = cache.generation
        cache.invalidate(store.id)
        _ = cache.keep(first, for: store, loadedAt: before)
        #expect(cache.entry(store.id) == nil)

        #expect(cache.keep(first, for: store, loadedAt: cache.generation) === first)
        #expect(cache.entry(store.id)?.fresh == true && cache.entry(store.id)?.entry.client === first)
        // A concurrent load of the same row gets the client already kept.
        let second = try Self.client()
        #expect(cache.keep(second, for: store, loadedAt: cache.generation) === first)

        // Past its lifetime it is read again, and kept with its client when the row is the same.
        manual.advance(by: .seconds(30))
        #expect(cache.entry(store.id)?.fresh == false)
        #expect(cache.keep(first, for: store, loadedAt: cache.generation) === first)
        #expect(cache.entry(store.id)?.fresh == true)
        // A changed row replaces it.
        let changed = Self.store(version: 2)
        #expect(cache.keep(second, for: changed, loadedAt: cache.generation) === second)
        #expect(cache.entry(store.id)?.entry.store.version == 2)

        // Unused for twice its lifetime: dropped (the secret goes with the client).
        await manual.waitForSleepers(3)
        manual.advance(by: .seconds(60))
        var dropped = false
        for _ in 0..<1000 where !dropped {
            dropped = cache.entry(store.id) == nil
            if !dropped { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(dropped)

        // The listener lost: everything goes.
        #expect(cache.keep(first, for: store, loadedAt: cache.generation) === first)
        cache.setListening(false)
        #expect(cache.entry(store.id) == nil)
    }
}
