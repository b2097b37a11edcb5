import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import KMSXKS
import Testing

/// kmsd keeps one proxy client per external key store (XKSClientCache): requests on its keys
/// reuse its keep-alive connections, survive a proxy restart, and stop at once when the store
/// changes, on this kmsd and (by NOTIFY) on another; and two concurrent CreateKeys with one
/// XksKeyId cannot both succeed.
@Suite struct XKSClientCacheTests {
    typealias Stores = CustomKeyStoreTests

    /// A connected store of `world`'s proxy with a key on external-1; the store id and the key ARN.
    static func storeWithKey(_ world: XKSWorld, name: String) async throws -> (store: String, key: String) {
        let client = world.stack.client
        let store = try await client.call(
            KMSMethod.createCustomKeyStore, Stores.create(name, endpoint: world.proxy.endpoint)
        ).customKeyStoreID
        _ = try await client.call(
            KMSMethod.connectCustomKeyStore, Stores.withID(store) as KMSConnectCustomKeyStoreRequest)
        let key = try await client.call(
            KMSMethod.createKey, XKSStoreKeyTests.keyRequest(store: store, xksKeyID: "external-1")
        ).keyMetadata.arn
        return (store, key)
    }

    static func encrypt(_ client: KMSClient, _ key: String) async -> String? {
        var encrypt = KMSEncryptRequest()
        encrypt.keyID = key
        encrypt.plaintext = Data("cached".utf8)
        return await code { _ = try await client.call(KMSMethod.encrypt, encrypt) }
    }

    @Test func requestsReuseTheStoresConnectionsAcrossAProxyRestartUntilItIsDisconnected() async throws {
        let world = try await XKSWorld.start()
        let client = world.stack.client
        let proxy = world.proxy
        let (store, key) = try await Self.storeWithKey(world, name: "cached")
        let connections = proxy.connections.withLock { $0 }
        for _ in 0..<5 { #expect(await Self.encrypt(client, key) == nil) }
        // One after another, the five requests shared one connection (they made five before).
        #expect(proxy.connections.withLock { $0 } == connections + 1)

        // A restarted proxy closed that connection: the next requests work on a new one.
        try await proxy.restart()
        for _ in 0..<3 { #expect(await Self.encrypt(client, key) == nil) }
        #expect(proxy.connections.withLock { $0 } == connections + 2)
        // A pooled connection closed as the request reaches it: sent once more, on a new one.
        proxy.behaviour.withLock { $0 = .closesReusedConnections }
        for _ in 0..<3 { #expect(await Self.encrypt(client, key) == nil) }
        #expect(proxy.connections.withLock { $0 } == connections + 5)
        proxy.behaviour.withLock { $0 = .healthy }

        // Disconnected: refused as before, without a word to the proxy.
        _ = try await client.call(
            KMSMethod.disconnectCustomKeyStore, Stores.withID(store) as KMSDisconnectCustomKeyStoreRequest)
        let asked = proxy.requests.withLock { $0 }
        #expect(await Self.encrypt(client, key) == "KMSInvalidStateException")
        #expect(proxy.requests.withLock { $0 } == asked)
        _ = try await client.call(
            KMSMethod.connectCustomKeyStore, Stores.withID(store) as KMSConnectCustomKeyStoreRequest)
        #expect(await Self.encrypt(client, key) == nil)
        await world.stop()
    }

    @Test func anotherKMSDDropsItsClientWhenTheStoreIsUpdatedOrDisconnected() async throws {
        let world = try await XKSWorld.start()
        let client = world.stack.client
        let proxy = world.proxy
        let (store, key) = try await Self.storeWithKey(world, name: "shared")
        // B keeps what it caches for an hour: only the change notification can make it see a change.
        let other = try await world.stack.secondKMSD(
            arguments: ["--xks-ca-file", world.path("ca.pem"), "--cache-seconds", "3600"])
        let kmsB = try other.client(credentials: world.stack.adminCredentials)
        #expect(await Self.encrypt(kmsB, key) == nil)  // B caches the store's client

        // The proxy's credential rotated, then the store's (allowed while CONNECTED): B's
        // cached client, signing with the old secret, must give way to one with the new.
        let rotated = XKSCredentials(
            accessKeyID: "ROTATEDACCESSKEY234567", secretAccessKey: Array(("Rotated/Secret+" + Stores.secret).utf8))
        proxy.credentials.withLock { $0 = rotated }
        #expect(await Self.encrypt(kmsB, key) == "XksProxyIncorrectAuthenticationCredentialException")
        _ = try await client.call(
            KMSMethod.updateCustomKeyStore,
            Stores.withID(store) { (request: inout KMSUpdateCustomKeyStoreRequest) in
                request.xksProxyAuthenticationCredential.accessKeyID = rotated.accessKeyID
                request.xksProxyAuthenticationCredential.rawSecretAccessKey = String(
                    decoding: rotated.secretAccessKey, as: UTF8.self)
            })
        // No bound on how soon (a loaded machine may take seconds); the limit only ends a hang.
        func eventually(_ expected: String?) async throws -> Bool {
            let hang = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < hang {
                if await Self.encrypt(kmsB, key) == expected { return true }
                try await Task.sleep(for: .milliseconds(20))
            }
            return false
        }
        #expect(try await eventually(nil), "the second kmsd never saw UpdateCustomKeyStore")

        _ = try await client.call(
            KMSMethod.disconnectCustomKeyStore, Stores.withID(store) as KMSDisconnectCustomKeyStoreRequest)
        #expect(
            try await eventually("KMSInvalidStateException"), "the second kmsd never saw DisconnectCustomKeyStore")
        let asked = proxy.requests.withLock { $0 }
        #expect(await Self.encrypt(kmsB, key) == "KMSInvalidStateException")
        #expect(proxy.requests.withLock { $0 } == asked)
        await kmsB.close()
        await other.stop()
        await world.stop()
    }

    /// Both protocols: of concurrent CreateKeys with one XksKeyId in one store, exactly one
    /// succeeds; the others get XksKeyAlreadyInUseException (from the query, or from the unique
    /// index when they passed it together).
    @Test func concurrentCreateKeysWithOneExternalKeyCreateOneKey() async throws {
        let world = try await XKSWorld.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        let stack = world.stack
        let client = stack.client
        let store = try await client.call(
            KMSMethod.createCustomKeyStore, Stores.create("race", endpoint: world.proxy.endpoint)
        ).customKeyStoreID
        _ = try await client.call(
            KMSMethod.connectCustomKeyStore, Stores.withID(store) as KMSConnectCustomKeyStoreRequest)
        let json = AWSJSONTestClient(
            endpoint: try #require(stack.kmsd.awsJSONEndpoint), credentials: stack.adminCredentials)
        let rounds = 6
        world.proxy.keys.withLock { keys in
            for round in 0..<rounds { keys["race-\(round)"] = XKSGetKeyMetadataResponse(keyStatus: "ENABLED") }
        }
        for round in 0..<rounds {
            let xksKeyID = "race-\(round)"
            let outcomes = await withTaskGroup(of: String?.self) { group in
                for caller in 0..<3 {
                    group.addTask {
                        if (round + caller) % 2 == 0 {
                            return await code {
                                _ = try await client.call(
                                    KMSMethod.createKey, XKSStoreKeyTests.keyRequest(store: store, xksKeyID: xksKeyID))
                            }
                        }
                        let body: [String: Any] = [
                            "Origin": "EXTERNAL_KEY_STORE", "CustomKeyStoreId": store, "XksKeyId": xksKeyID,
                        ]
                        guard let data = try? JSONSerialization.data(withJSONObject: body),
                            let reply = try? await json.call("CreateKey", body: data)
                        else { return "no answer" }
                        return reply.code
                    }
                }
                var outcomes: [String?] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(outcomes.filter { $0 == nil }.count == 1, "round \(round): \(outcomes)")
            #expect(
                outcomes.filter { $0 == "XksKeyAlreadyInUseException" }.count == 2, "round \(round): \(outcomes)")
        }
        await world.stop()
    }
}
