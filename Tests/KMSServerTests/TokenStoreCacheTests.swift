import Foundation
import KMSDomain
import KMSTestSupport
import Testing

@testable import KMSServer

/// TokenStoreCache's decisions on a manual clock: a CONNECTED store's row is kept while the change
/// listener is heard and within its lifetime, and never across a change.
@Suite struct TokenStoreCacheTests {
    static func store(_ state: CustomKeyStoreConnectionState = .connected) -> CustomKeyStoreRecord {
        CustomKeyStoreRecord(
            id: CustomKeyStoreID("cks-0123456789abcdefb")!, account: "111122223333", region: "us-east-1",
            name: "hsm", type: .awsCloudHSM, connectionState: state, xks: nil,
            cloudHSM: CloudHSMTokenSettings(module: "softhsm", tokenLabel: "kms-1", wrappedPIN: [1, 2]),
            creationDate: Date(timeIntervalSince1970: 0), version: 1)
    }

    @Test func aConnectedStoreIsKeptWhileHeardAndFreshAndDroppedOnAChange() {
        let manual = ManualClock()
        let cache = TokenStoreCache(lifetime: .seconds(30), clock: ServiceClock(manual, wall: { manual.wallNow }))
        let store = Self.store()
        // Nothing is kept while the change listener is down.
        cache.keep(store, loadedAt: cache.generation)
        #expect(cache.store(store.id) == nil)
        cache.setListening(true)

        // A load that began before a change is not kept; a store not CONNECTED is never kept.
        let before = cache.generation
        cache.invalidate(store.id)
        cache.keep(store, loadedAt: before)
        #expect(cache.store(store.id) == nil)
        cache.keep(Self.store(.disconnected), loadedAt: cache.generation)
        #expect(cache.store(store.id) == nil)

        cache.keep(store, loadedAt: cache.generation)
        #expect(cache.store(store.id) == store)
        // Past its lifetime it is read again.
        manual.advance(by: .seconds(31))
        #expect(cache.store(store.id) == nil)
        cache.keep(store, loadedAt: cache.generation)
        #expect(cache.store(store.id) == store)
        // A change, or the listener going down, drops it.
        cache.invalidate(store.id)
        #expect(cache.store(store.id) == nil)
        cache.keep(store, loadedAt: cache.generation)
        cache.setListening(false)
        #expect(cache.store(store.id) == nil)
    }
}
