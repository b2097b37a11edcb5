import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import KMSXKS
import Testing

/// ConnectCustomKeyStore against an XKS proxy that answers well, wrongly, or not at all: the
/// store ends CONNECTED or FAILED with AWS's ConnectionErrorCode, the call itself succeeds as at
/// AWS, and the state rules follow (FAILED must be disconnected before it connects again;
/// endpoint changes and deletion wait for DISCONNECTED).
@Suite struct CustomKeyStoreConnectionTests {
    typealias Stores = CustomKeyStoreTests

    static func state(_ client: KMSClient, _ id: String) async throws -> (KMSConnectionState, KMSConnectionErrorCode?) {
        let entry = try #require(try await Stores.describe(client, id: id).first)
        return (entry.connectionState, entry.hasConnectionErrorCode ? entry.connectionErrorCode : nil)
    }

    @Test func connectingToProxiesThatAnswerWellWronglyOrNotAtAll() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kms-xks-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await TLSTests.makeCertificates(in: directory, clients: [:])
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let proxy = try await FakeXKSProxy.start(
            certificate: path("server.pem"), key: path("server.key"),
            credentials: XKSCredentials(accessKeyID: Stores.accessKeyID, secretAccessKey: Array(Stores.secret.utf8)))
        let stack = try await KMSStack.start(kmsdArguments: ["--xks-ca-file", path("ca.pem")])
        let client = stack.client
        var serial = 0
        func create(secret: String = Stores.secret, endpoint: String? = nil) async throws -> String {
            serial += 1
            var request = Stores.create("store-\(serial)", endpoint: endpoint ?? proxy.endpoint)
            request.xksProxyUriPath = "/p\(serial)/kms/xks/v1"
            request.xksProxyAuthenticationCredential.rawSecretAccessKey = secret
            return try await client.call(KMSMethod.createCustomKeyStore, request).customKeyStoreID
        }
        func connect(_ id: String) async throws {
            _ = try await client.call(
                KMSMethod.connectCustomKeyStore, Stores.withID(id) as KMSConnectCustomKeyStoreRequest)
        }
        func disconnect(_ id: String) async throws {
            _ = try await client.call(
                KMSMethod.disconnectCustomKeyStore, Stores.withID(id) as KMSDisconnectCustomKeyStoreRequest)
        }

        // A healthy proxy, signed for with the right secret (which kmsd only had wrapped).
        let good = try await create()
        try await connect(good)
        #expect(try await Self.state(client, good) == (.connected, nil))
        try await connect(good)  // CONNECTED: nothing to do, success
        #expect(
            await code {
                _ = try await client.call(
                    KMSMethod.updateCustomKeyStore,
                    Stores.withID(good) { (r: inout KMSUpdateCustomKeyStoreRequest) in
                        r.xksProxyUriEndpoint = "https://elsewhere.example.com"
                    })
            } == "CustomKeyStoreInvalidStateException")
        _ = try await client.call(
            KMSMethod.updateCustomKeyStore,
            Stores.withID(good) { (r: inout KMSUpdateCustomKeyStoreRequest) in r.newCustomKeyStoreName = "renamed" })
        #expect(
            await code {
                _ = try await client.call(
                    KMSMethod.deleteCustomKeyStore, Stores.withID(good) as KMSDeleteCustomKeyStoreRequest)
            } == "CustomKeyStoreInvalidStateException")
        var key = KMSCreateKeyRequest()
        key.origin = .externalKeyStore
        key.customKeyStoreID = good
        key.xksKeyID = "unknown-to-the-proxy"
        #expect(await code { _ = try await client.call(KMSMethod.createKey, key) } == "XksKeyNotFoundException")
        try await disconnect(good)
        #expect(try await Self.state(client, good) == (.disconnected, nil))
        // Concurrent connects of one store: each succeeds, and the store is CONNECTED.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { try await connect(good) } }
            try await group.waitForAll()
        }
        #expect(try await Self.state(client, good) == (.connected, nil))
        try await disconnect(good)

        // A proxy that stopped accepting the credential: FAILED, INVALID_CREDENTIALS; connecting
        // again needs a disconnect first.
        let refused = try await create()
        proxy.behaviour.withLock { $0 = .unauthorized }
        try await connect(refused)
        #expect(try await Self.state(client, refused) == (.failed, .invalidCredentials))
        #expect(await code { try await connect(refused) } == "CustomKeyStoreInvalidStateException")
        try await disconnect(refused)
        #expect(try await Self.state(client, refused) == (.disconnected, nil))
        proxy.behaviour.withLock { $0 = .healthy }
        try await connect(refused)
        #expect(try await Self.state(client, refused) == (.connected, nil))

        // Answers that are not the API's, no key manager to serve, no answer, nobody there.
        for (behaviour, expected) in [
            (FakeXKSProxy.Behaviour.garbage, KMSConnectionErrorCode.xksProxyInvalidResponse),
            (.unavailable, .xksProxyNotReachable), (.silent, .xksProxyTimedOut),
        ] {
            proxy.behaviour.withLock { $0 = .healthy }
            let id = try await create()
            proxy.behaviour.withLock { $0 = behaviour }
            try await connect(id)
            #expect(try await Self.state(client, id) == (.failed, expected), "\(behaviour)")
        }
        // A proxy that has gone away since the store was created.
        proxy.behaviour.withLock { $0 = .healthy }
        let gone = try await XKSWorld.proxy(in: directory)
        let closed = try await create(endpoint: gone.endpoint)
        await gone.stop()
        try await connect(closed)
        #expect(try await Self.state(client, closed) == (.failed, .xksProxyNotReachable))
        await stack.stop()
        await proxy.stop()
    }

    /// A root key rotation re-wraps a store's proxy secret with the access keys' secrets: once
    /// the old root key is retired, kmsd still signs for the proxy with the right secret.
    @Test func aRootKeyRewrapKeepsAStoresProxyCredentialUsable() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kms-xks-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await TLSTests.makeCertificates(in: directory, clients: [:])
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let proxy = try await FakeXKSProxy.start(
            certificate: path("server.pem"), key: path("server.key"),
            credentials: XKSCredentials(accessKeyID: Stores.accessKeyID, secretAccessKey: Array(Stores.secret.utf8)))
        let stack = try await KMSStack.start(
            kmsdArguments: ["--xks-ca-file", path("ca.pem"), "--rewrap-interval-seconds", "1"])
        let kms = stack.client
        let id = try await kms.call(KMSMethod.createCustomKeyStore, Stores.create("rewrap", endpoint: proxy.endpoint))
            .customKeyStoreID
        let before = try await RootKeyRotationTests.status(kms)
        let oldRoot = try #require(before.rootKeys.first { $0.newest })
        let keyring = stack.worker.keyringPath
        #expect(try await WorkerProcess.run(["rotate-root-key", "--root-key-file", keyring]).status == 0)
        stack.worker.signal(SIGHUP)
        var rotated = false
        for _ in 0..<50 where !rotated {
            rotated = try await RootKeyRotationTests.status(kms).rootKeys.contains {
                $0.newest && $0.rootKeyID != oldRoot.rootKeyID
            }
            if !rotated { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(rotated)
        _ = try await kms.call(AdminMethod.startRewrap, AdminStartRewrapRequest())
        var finished: AdminGetRewrapStatusResponse?
        for _ in 0..<100 where finished == nil {
            let status = try await RootKeyRotationTests.status(kms)
            if status.state == "Finished" { finished = status } else { try await Task.sleep(for: .milliseconds(100)) }
        }
        let done = try #require(finished)
        #expect(done.rootKeys.first { $0.rootKeyID == oldRoot.rootKeyID }.map(\.accessKeySecrets) ?? 0 == 0)
        #expect(
            try await WorkerProcess.run([
                "retire-root-key", "--root-key-file", keyring, "--root-key-id", oldRoot.rootKeyID,
            ]).status == 0)
        await stack.worker.stop()
        try await stack.worker.start()
        let client = try stack.kmsd.client(credentials: stack.adminCredentials)
        _ = try await client.call(KMSMethod.connectCustomKeyStore, Stores.withID(id) as KMSConnectCustomKeyStoreRequest)
        #expect(try await Self.state(client, id) == (.connected, nil))
        await client.close()
        await stack.stop()
        await proxy.stop()
    }

    /// The xks branch's kms-xks-proxy, in front of the same kmsd, is a proxy kmsd connects to;
    /// a store with a URI path it does not serve is refused (XksProxyInvalidConfigurationException).
    /// A key in the store (its external key one of kmsd's own, by the proxy's key map) encrypts
    /// and decrypts through it, and stops decrypting when the external key is disabled.
    @Test func connectingToKmsXksProxy() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kms-xks-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await TLSTests.makeCertificates(in: directory, clients: [:])
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let stack = try await KMSStack.start(kmsdArguments: ["--xks-ca-file", path("ca.pem")])
        let secret = String(repeating: "Ab3", count: 15)
        let configuration: [String: Any] = [
            "uriPath": "/tenant/kms/xks/v1", "regions": ["us-east-1"],
            "credentials": [["accessKeyId": Stores.accessKeyID, "secretAccessKey": secret]],
            "tls": ["certificate": path("server.pem"), "privateKey": path("server.key")],
            "keys": ["proxy-key": "alias/xks-backing"],
        ]
        let file = path("proxy.json")
        try JSONSerialization.data(withJSONObject: configuration).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        let ready = path("proxy.ready")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath("kms-xks-proxy", environment: "KMS_XKS_PROXY"))
        process.arguments = [
            "--config", file, "--listen", "127.0.0.1:0", "--kmsd-endpoint", stack.kmsd.endpoint, "--ready-file", ready,
            "--log-level", "warning",
        ]
        process.environment = stack.environment
        try process.run()
        defer { process.terminate() }
        var address = ""
        for _ in 0..<400 where address.isEmpty {
            if let text = try? String(contentsOfFile: ready, encoding: .utf8), text.hasSuffix("\n") {
                address = text.trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try #require(!address.isEmpty, "kms-xks-proxy did not start")
        let port = try #require(address.split(separator: ":").last)
        let client = stack.client
        // A URI path it does not serve: XksProxyInvalidConfigurationException, and no store.
        var request = Stores.create("wrong", endpoint: "https://127.0.0.1:\(port)", path: "/other/kms/xks/v1")
        request.xksProxyAuthenticationCredential.rawSecretAccessKey = secret
        #expect(
            await code { _ = try await client.call(KMSMethod.createCustomKeyStore, request) }
                == "XksProxyInvalidConfigurationException")
        // KMSXKS's client signs Content-Type too, which kms-xks-proxy requires (it answered
        // AuthenticationFailedException while only Host and X-Amz-Date were signed).
        request = Stores.create("real", endpoint: "https://127.0.0.1:\(port)", path: "/tenant/kms/xks/v1")
        request.xksProxyAuthenticationCredential.rawSecretAccessKey = secret
        let created = await code { _ = try await client.call(KMSMethod.createCustomKeyStore, request) }
        #expect(created == nil, "\(created ?? "")")
        let id = try #require(try await Stores.describe(client, name: "real").first).customKeyStoreID
        _ = try await client.call(KMSMethod.connectCustomKeyStore, Stores.withID(id) as KMSConnectCustomKeyStoreRequest)
        #expect(try await Self.state(client, id) == (.connected, nil))
        // A key in the store whose external key is one of this kmsd's own keys, served through
        // kms-xks-proxy: double encryption end to end.
        let external = try await client.call(KMSMethod.createKey, KMSCreateKeyRequest()).keyMetadata.keyID
        var alias = KMSCreateAliasRequest()
        alias.aliasName = "alias/xks-backing"
        alias.targetKeyID = external
        _ = try await client.call(KMSMethod.createAlias, alias)
        var key = KMSCreateKeyRequest()
        key.origin = .externalKeyStore
        key.customKeyStoreID = id
        key.xksKeyID = "proxy-key"
        let inStore = try await client.call(KMSMethod.createKey, key).keyMetadata
        #expect(inStore.xksKeyConfiguration.id == "proxy-key")
        var encrypt = KMSEncryptRequest()
        encrypt.keyID = inStore.keyID
        encrypt.plaintext = Data("through kms-xks-proxy".utf8)
        encrypt.encryptionContext = ["via": "proxy"]
        var decrypt = KMSDecryptRequest()
        decrypt.ciphertextBlob = try await client.call(KMSMethod.encrypt, encrypt).ciphertextBlob
        decrypt.encryptionContext = ["via": "proxy"]
        #expect(decrypt.ciphertextBlob.first == 3)
        #expect(try await client.call(KMSMethod.decrypt, decrypt).plaintext == encrypt.plaintext)
        // The external key disabled: the proxy refuses, and so does Decrypt.
        var disable = KMSDisableKeyRequest()
        disable.keyID = external
        _ = try await client.call(KMSMethod.disableKey, disable)
        let refused = await code { _ = try await client.call(KMSMethod.decrypt, decrypt) }
        #expect(refused == "XksKeyInvalidConfigurationException", "\(refused ?? "")")
        await stack.stop()
    }
}
