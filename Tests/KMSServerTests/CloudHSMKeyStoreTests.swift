import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import PostgresNIO
import Testing

/// AWS_CLOUDHSM custom key stores over a SoftHSM2 token, through kmsd and a kms-cryptod that
/// allows SoftHSM2's module as "softhsm": CloudHsmClusterId names the token, KeyStorePassword is
/// its PIN (stored only wrapped), ConnectCustomKeyStore logs in, and failures show as AWS's
/// ConnectionErrorCode.
@Suite struct CloudHSMKeyStoreTests {
    static func create(_ name: String, clusterID: String, password: String) -> KMSCreateCustomKeyStoreRequest {
        var request = KMSCreateCustomKeyStoreRequest()
        request.customKeyStoreName = name
        request.customKeyStoreType = .awsCloudhsm
        request.cloudHsmClusterID = clusterID
        request.keyStorePassword = password
        return request
    }

    static func state(_ client: KMSClient, _ id: String) async throws -> KMSCustomKeyStoresListEntry {
        var request = KMSDescribeCustomKeyStoresRequest()
        request.customKeyStoreID = id
        return try #require(try await client.call(KMSMethod.describeCustomKeyStores, request).customKeyStores.first)
    }

    @Test func aTokenStoreConnectsWithItsPINAndFailsWithAnother() async throws {
        let softhsm = try await SoftHSMToken(pin: "the-token-pin-1")
        let stack = try await KMSStack.start(
            workerArguments: ["--pkcs11-module", "softhsm=\(softhsm.modulePath)"],
            workerEnvironment: softhsm.environment)
        let client = stack.client
        let created = try await client.call(
            KMSMethod.createCustomKeyStore,
            Self.create("hsm", clusterID: "softhsm/\(softhsm.label)", password: softhsm.pin))
        let id = created.customKeyStoreID
        var entry = try await Self.state(client, id)
        #expect(entry.customKeyStoreType == .awsCloudhsm)
        #expect(entry.cloudHsmClusterID == "softhsm/\(softhsm.label)")
        #expect(entry.connectionState == .disconnected)

        // One token, one store; the members of the other type, and bad ones, are refused.
        #expect(
            await code {
                _ = try await client.call(
                    KMSMethod.createCustomKeyStore,
                    Self.create("again", clusterID: "softhsm/\(softhsm.label)", password: softhsm.pin))
            } == "CloudHsmClusterInUseException")
        var withProxy = Self.create("proxy", clusterID: "softhsm/other", password: softhsm.pin)
        withProxy.xksProxyUriPath = "/kms/xks/v1"
        #expect(
            await code { _ = try await client.call(KMSMethod.createCustomKeyStore, withProxy) } == "ValidationException"
        )
        for (cluster, password) in [("softhsm/x", "short"), ("", "long-enough"), ("bad module/x", "long-enough")] {
            #expect(
                await code {
                    _ = try await client.call(
                        KMSMethod.createCustomKeyStore, Self.create("bad", clusterID: cluster, password: password))
                } == "ValidationException")
        }

        var connect = KMSConnectCustomKeyStoreRequest()
        connect.customKeyStoreID = id
        _ = try await client.call(KMSMethod.connectCustomKeyStore, connect)
        entry = try await Self.state(client, id)
        #expect(entry.connectionState == .connected)

        // The PIN changes only while DISCONNECTED.
        var update = KMSUpdateCustomKeyStoreRequest()
        update.customKeyStoreID = id
        update.keyStorePassword = "not-the-pin-2"
        #expect(
            await code { _ = try await client.call(KMSMethod.updateCustomKeyStore, update) }
                == "CustomKeyStoreInvalidStateException")
        var disconnect = KMSDisconnectCustomKeyStoreRequest()
        disconnect.customKeyStoreID = id
        _ = try await client.call(KMSMethod.disconnectCustomKeyStore, disconnect)
        _ = try await client.call(KMSMethod.updateCustomKeyStore, update)
        _ = try await client.call(KMSMethod.connectCustomKeyStore, connect)
        entry = try await Self.state(client, id)
        #expect(entry.connectionState == .failed)
        #expect(entry.connectionErrorCode == .invalidCredentials)

        // An unknown token label: CLUSTER_NOT_FOUND; an unconfigured module: INTERNAL_ERROR.
        for (name, cluster, error) in [
            ("nolabel", "softhsm/no-such-token", KMSConnectionErrorCode.clusterNotFound),
            ("nomodule", "elsewhere/\(softhsm.label)", KMSConnectionErrorCode.internalError),
        ] {
            let store = try await client.call(
                KMSMethod.createCustomKeyStore, Self.create(name, clusterID: cluster, password: softhsm.pin))
            var request = KMSConnectCustomKeyStoreRequest()
            request.customKeyStoreID = store.customKeyStoreID
            _ = try await client.call(KMSMethod.connectCustomKeyStore, request)
            let failed = try await Self.state(client, store.customKeyStoreID)
            #expect(failed.connectionState == .failed)
            #expect(failed.connectionErrorCode == error)
        }

        // The PIN is stored wrapped only: no table holds it in plaintext.
        let text = try await stack.database.withClient { client in
            var names: [String] = []
            let rows = try await client.query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
                logger: .init(label: "test"))
            for try await name in rows.decode(String.self) { names.append(name) }
            var text = ""
            for name in names {
                let dump = try await client.query(
                    "SELECT coalesce(string_agg(t::text, ''), '') FROM \(unescaped: name) t",
                    logger: .init(label: "test"))
                for try await row in dump.decode(String.self) { text += row }
            }
            return text
        }
        #expect(text.contains(softhsm.label))
        #expect(!text.contains(softhsm.pin))
        #expect(!text.contains("not-the-pin-2"))
        await stack.stop()
    }

    /// A root key rotation re-wraps a store's token PIN: once the old root key is retired, the
    /// store still connects.
    @Test func aRootKeyRewrapKeepsAStoresPINUsable() async throws {
        let softhsm = try await SoftHSMToken()
        let workerArguments = ["--pkcs11-module", "softhsm=\(softhsm.modulePath)"]
        let stack = try await KMSStack.start(
            kmsdArguments: ["--rewrap-interval-seconds", "1"], workerArguments: workerArguments,
            workerEnvironment: softhsm.environment)
        let kms = stack.client
        let id = try await kms.call(
            KMSMethod.createCustomKeyStore, Self.create("rewrap", clusterID: softhsm.label, password: softhsm.pin)
        ).customKeyStoreID
        let oldRoot = try #require(try await RootKeyRotationTests.status(kms).rootKeys.first { $0.newest })
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
        try await stack.worker.start(extraArguments: workerArguments, childEnvironment: softhsm.environment)
        let client = try stack.kmsd.client(credentials: stack.adminCredentials)
        var connect = KMSConnectCustomKeyStoreRequest()
        connect.customKeyStoreID = id
        _ = try await client.call(KMSMethod.connectCustomKeyStore, connect)
        #expect(try await Self.state(client, id).connectionState == .connected)
        await client.close()
        await stack.stop()
    }
}
