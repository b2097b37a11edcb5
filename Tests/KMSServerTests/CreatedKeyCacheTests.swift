import Foundation
import KMSDomain
import KMSPolicy
import KMSProto
import KMSStore
import KMSTestSupport
import Testing

@testable import KMSServer

/// CreateKey leaves the key it made in the key cache, exactly as a read of it would have cached
/// it, so the key's first use (an Encrypt right after, as callers usually do) reads nothing.
@Suite struct CreatedKeyCacheTests {
    @Test func aNewKeyIsCachedAsItsReadWouldCacheIt() async throws {
        try await ServiceCore.with { core in
            // The listener is up (kmsd caches nothing before it is).
            core.service.cache.setListening(true)
            var requests: [KMSCreateKeyRequest] = []
            var described = KMSCreateKeyRequest()
            described.description_p = "payments"
            described.tags = [TagTests.tag("team", "a"), TagTests.tag("env", "prod")]
            requests.append(described)
            var hmac = KMSCreateKeyRequest()
            hmac.keySpec = .hmac256
            hmac.keyUsage = .generateVerifyMac
            requests.append(hmac)
            var external = KMSCreateKeyRequest()
            external.origin = .external
            requests.append(external)
            var ids: [String] = []
            for request in requests {
                let made = try await core.service.createKey(request, caller: ServiceCoreTests.caller()).keyMetadata
                let id = try #require(KeyID(made.keyID))
                let cached = try #require(core.service.cache.key(id), "\(request)")
                let whole = try #require(try await core.database.stores.keys.fetchWhole(keyID: id))
                #expect(cached.record == whole.record)
                #expect(Set(cached.materials.values) == Set(whole.materials))
                #expect(cached.currentMaterial == whole.materials.last)
                #expect(cached.tags == Dictionary(uniqueKeysWithValues: whole.tags.map { ($0.key, $0.value) }))
                #expect(cached.grants.isEmpty && cached.grantIDs.isEmpty && cached.aliases.isEmpty)
                #expect(cached.policy == (try PolicyDocument.parse(whole.record.policy, kind: .resource)))
                ids.append(made.keyID)
            }
            // The cached key serves: its policy lets the account's root encrypt and decrypt.
            let blob = try await ServiceCoreTests.encrypt(core.service, ids[0])
            #expect(try await ServiceCoreTests.decrypt(core.service, blob) == Data("secret".utf8))
        }
    }

    @Test func aKeyIsNotCachedWhileTheCacheIsNotListening() async throws {
        try await ServiceCore.with { core in
            let made = try await core.service.createKey(KMSCreateKeyRequest(), caller: ServiceCoreTests.caller())
            #expect(core.service.cache.key(try #require(KeyID(made.keyMetadata.keyID))) == nil)
            // Read on first use instead.
            _ = try await ServiceCoreTests.encrypt(core.service, made.keyMetadata.keyID)
        }
    }
}
