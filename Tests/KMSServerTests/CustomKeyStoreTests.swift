import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import PostgresNIO
import SwiftProtobuf
import Testing

/// The six custom key store operations through both protocols on a real stack: AWS's state
/// rules and exceptions, paging, tenancy and IAM-only authorization, and the proxy's secret
/// never shown nor stored in plaintext.
@Suite struct CustomKeyStoreTests {
    static let secret = "Pr0xy/Secret+Value=" + String(repeating: "q", count: 30)
    static let accessKeyID = "ABCDEFGHIJKLMNOPQRST234567"

    /// A store named `name` at `endpoint` (default: a host that resolves nowhere), its path
    /// `/<name>/kms/xks/v1` unless given.
    static func create(
        _ name: String, endpoint: String? = nil, path: String? = nil,
        connectivity: KMSXksProxyConnectivity = .publicEndpoint, type: KMSCustomKeyStoreType = .externalKeyStore
    ) -> KMSCreateCustomKeyStoreRequest {
        var request = KMSCreateCustomKeyStoreRequest()
        request.customKeyStoreName = name
        request.customKeyStoreType = type
        request.xksProxyUriEndpoint = endpoint ?? "https://\(name).example.com"
        request.xksProxyUriPath = path ?? "/\(name)/kms/xks/v1"
        request.xksProxyConnectivity = connectivity
        request.xksProxyAuthenticationCredential.accessKeyID = Self.accessKeyID
        request.xksProxyAuthenticationCredential.rawSecretAccessKey = Self.secret
        return request
    }

    static func describe(_ client: KMSClient, id: String? = nil, name: String? = nil) async throws
        -> [KMSCustomKeyStoresListEntry]
    {
        var request = KMSDescribeCustomKeyStoresRequest()
        if let id { request.customKeyStoreID = id }
        if let name { request.customKeyStoreName = name }
        return try await client.call(KMSMethod.describeCustomKeyStores, request).customKeyStores
    }

    static func withID<R>(_ id: String, _ body: (inout R) -> Void = { _ in }) -> R where R: CustomKeyStoreRequest {
        var request = R()
        request.customKeyStoreID = id
        body(&request)
        return request
    }

    @Test func theBinaryProtocolFollowsAWSsStateRules() async throws {
        let world = try await XKSWorld.start()
        let client = world.stack.client
        let proxy = world.proxy.endpoint
        let id = try await client.call(KMSMethod.createCustomKeyStore, Self.create("one", endpoint: proxy))
            .customKeyStoreID
        #expect(id.hasPrefix("cks-") && id.count == 21)

        var entry = try #require(try await Self.describe(client, id: id).first)
        #expect(entry.customKeyStoreName == "one")
        #expect(entry.customKeyStoreType == .externalKeyStore)
        #expect(entry.connectionState == .disconnected)
        #expect(!entry.hasConnectionErrorCode)
        #expect(entry.xksProxyConfiguration.accessKeyID == Self.accessKeyID)
        #expect(entry.xksProxyConfiguration.uriEndpoint == proxy)
        #expect(entry.xksProxyConfiguration.uriPath == "/one/kms/xks/v1")
        #expect(entry.xksProxyConfiguration.connectivity == .publicEndpoint)
        #expect(try await Self.describe(client, name: "one").map(\.customKeyStoreID) == [id])

        func creation(_ request: KMSCreateCustomKeyStoreRequest) async -> String? {
            await code { _ = try await client.call(KMSMethod.createCustomKeyStore, request) }
        }
        // Names and proxy URIs are unique in the account and region; the proxy must answer
        // with the settings (AWS's exceptions when it does not); no VPC; no XKS members for
        // AWS_CLOUDHSM (CloudHSMKeyStoreTests).
        #expect(
            await creation(Self.create("one", endpoint: proxy, path: "/x/kms/xks/v1"))
                == "CustomKeyStoreNameInUseException")
        #expect(
            await creation(Self.create("two", endpoint: proxy, path: "/one/kms/xks/v1")) == "XksProxyUriInUseException")
        #expect(await creation(Self.create("nowhere")) == "XksProxyUriUnreachableException")
        var wrongSecret = Self.create("wrong", endpoint: proxy)
        wrongSecret.xksProxyAuthenticationCredential.rawSecretAccessKey = String(Self.secret.reversed())
        #expect(await creation(wrongSecret) == "XksProxyIncorrectAuthenticationCredentialException")
        #expect(
            await creation(Self.create("badpath", endpoint: proxy, path: "/badpath/kms/xks/v2"))
                == "XksProxyInvalidConfigurationException")
        #expect(
            await creation(Self.create("vpc", connectivity: .vpcEndpointService)) == "UnsupportedOperationException")
        #expect(await creation(Self.create("hsm", type: .awsCloudhsm)) == "ValidationException")
        var noCredential = Self.create("nocredential", endpoint: proxy)
        noCredential.clearXksProxyAuthenticationCredential()
        #expect(await creation(noCredential) == "ValidationException")
        #expect(try await Self.describe(client).count == 1)

        // DISCONNECTED: disconnecting again is refused; keys are created only in a CONNECTED store.
        let disconnect: KMSDisconnectCustomKeyStoreRequest = Self.withID(id)
        #expect(
            await code { _ = try await client.call(KMSMethod.disconnectCustomKeyStore, disconnect) }
                == "CustomKeyStoreInvalidStateException")
        var key = KMSCreateKeyRequest()
        key.origin = .externalKeyStore
        key.customKeyStoreID = id
        key.xksKeyID = "external-1"
        #expect(
            await code { _ = try await client.call(KMSMethod.createKey, key) } == "CustomKeyStoreInvalidStateException")
        let connect: KMSConnectCustomKeyStoreRequest = Self.withID(id)
        _ = try await client.call(KMSMethod.connectCustomKeyStore, connect)
        entry = try #require(try await Self.describe(client, id: id).first)
        #expect(entry.connectionState == .connected && !entry.hasConnectionErrorCode)
        // The proxy must know the external key (XKSStoreKeyTests creates keys that it does).
        key.xksKeyID = "unknown-to-the-proxy"
        #expect(await code { _ = try await client.call(KMSMethod.createKey, key) } == "XksKeyNotFoundException")
        let delete: KMSDeleteCustomKeyStoreRequest = Self.withID(id)
        #expect(
            await code { _ = try await client.call(KMSMethod.deleteCustomKeyStore, delete) }
                == "CustomKeyStoreInvalidStateException")
        _ = try await client.call(KMSMethod.disconnectCustomKeyStore, disconnect)
        key.customKeyStoreID = "cks-0000000000000000f"
        #expect(
            await code { _ = try await client.call(KMSMethod.createKey, key) } == "CustomKeyStoreNotFoundException")
        key.clearXksKeyID()
        #expect(await code { _ = try await client.call(KMSMethod.createKey, key) } == "ValidationException")

        // Update: new proxy settings are checked with the proxy; the name, path and credential change.
        func update(_ change: (inout KMSUpdateCustomKeyStoreRequest) -> Void) async -> String? {
            await code { _ = try await client.call(KMSMethod.updateCustomKeyStore, Self.withID(id, change)) }
        }
        #expect(
            await update { $0.xksProxyUriEndpoint = "https://moved.example.com" } == "XksProxyUriUnreachableException")
        #expect(
            await update {
                $0.xksProxyAuthenticationCredential.accessKeyID = Self.accessKeyID
                $0.xksProxyAuthenticationCredential.rawSecretAccessKey = String(Self.secret.reversed())
            } == "XksProxyIncorrectAuthenticationCredentialException")
        #expect(
            await update {
                $0.newCustomKeyStoreName = "renamed"
                $0.xksProxyUriPath = "/prefix/kms/xks/v1"
                $0.xksProxyAuthenticationCredential.accessKeyID = Self.accessKeyID
                $0.xksProxyAuthenticationCredential.rawSecretAccessKey = Self.secret
            } == nil)
        entry = try #require(try await Self.describe(client, id: id).first)
        #expect(entry.customKeyStoreName == "renamed")
        #expect(entry.xksProxyConfiguration.uriEndpoint == proxy)
        #expect(entry.xksProxyConfiguration.uriPath == "/prefix/kms/xks/v1")
        let other = try await client.call(KMSMethod.createCustomKeyStore, Self.create("other", endpoint: proxy))
            .customKeyStoreID
        let clash: KMSUpdateCustomKeyStoreRequest = Self.withID(other) { $0.newCustomKeyStoreName = "renamed" }
        #expect(
            await code { _ = try await client.call(KMSMethod.updateCustomKeyStore, clash) }
                == "CustomKeyStoreNameInUseException")
        let vpc: KMSUpdateCustomKeyStoreRequest = Self.withID(other) { $0.xksProxyConnectivity = .vpcEndpointService }
        #expect(
            await code { _ = try await client.call(KMSMethod.updateCustomKeyStore, vpc) }
                == "UnsupportedOperationException")

        // Delete, once; then it is gone.
        _ = try await client.call(KMSMethod.deleteCustomKeyStore, delete)
        #expect(
            await code { _ = try await client.call(KMSMethod.deleteCustomKeyStore, delete) }
                == "CustomKeyStoreNotFoundException")
        #expect(await code { _ = try await Self.describe(client, id: id) } == "CustomKeyStoreNotFoundException")
        #expect(
            await code { _ = try await Self.describe(client, name: "renamed") } == "CustomKeyStoreNotFoundException")
        #expect(await code { _ = try await Self.describe(client, id: other, name: "other") } == "ValidationException")
        await world.stop()
    }

    /// Concurrent creations of one name: one store, and AWS's exception for every other, never
    /// an internal error (the insert does nothing on a conflict and says which).
    @Test func concurrentCreationsOfOneNameMakeOneStore() async throws {
        let world = try await XKSWorld.start()
        let stack = world.stack
        let client = stack.client
        let proxy = world.proxy.endpoint
        let codes = await withTaskGroup(of: String?.self) { group in
            for index in 0..<8 {
                group.addTask {
                    await code {
                        _ = try await client.call(
                            KMSMethod.createCustomKeyStore,
                            Self.create("same", endpoint: proxy, path: "/same-\(index)/kms/xks/v1"))
                    }
                }
            }
            var codes: [String?] = []
            for await code in group { codes.append(code) }
            return codes
        }
        #expect(codes.filter { $0 == nil }.count == 1)
        #expect(codes.filter { $0 == "CustomKeyStoreNameInUseException" }.count == 7, "\(codes)")
        #expect(try await Self.describe(client).count == 1)
        await world.stop()
    }

    @Test func describingPagesByLimitAndMarker() async throws {
        let world = try await XKSWorld.start()
        let stack = world.stack
        var ids: [String] = []
        for index in 0..<5 {
            ids.append(
                try await stack.client.call(
                    KMSMethod.createCustomKeyStore, Self.create("page-\(index)", endpoint: world.proxy.endpoint)
                )
                .customKeyStoreID)
        }
        var seen: [String] = []
        var request = KMSDescribeCustomKeyStoresRequest()
        request.limit = 2
        var pages = 0
        while true {
            let page = try await stack.client.call(KMSMethod.describeCustomKeyStores, request)
            pages += 1
            #expect(page.customKeyStores.count <= 2)
            seen += page.customKeyStores.map(\.customKeyStoreID)
            guard page.truncated else { break }
            request.marker = page.nextMarker
        }
        #expect(pages == 3)
        #expect(seen == ids.sorted())
        request.marker = "not a marker"
        #expect(
            await code { _ = try await stack.client.call(KMSMethod.describeCustomKeyStores, request) }
                == "InvalidMarkerException")
        await world.stop()
    }

    @Test func theAWSJSONAPIServesEveryOperationAndNeverShowsTheSecret() async throws {
        let world = try await XKSWorld.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        let stack = world.stack
        let json = AWSJSONTestClient(
            endpoint: try #require(stack.kmsd.awsJSONEndpoint), credentials: stack.adminCredentials)
        func call(_ operation: String, _ body: [String: Any]) async throws -> AWSJSONReply {
            try await json.call(operation, body: try JSONSerialization.data(withJSONObject: body))
        }
        let created = try await call(
            "CreateCustomKeyStore",
            [
                "CustomKeyStoreName": "json", "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
                "XksProxyUriEndpoint": world.proxy.endpoint, "XksProxyUriPath": "/json/kms/xks/v1",
                "XksProxyConnectivity": "PUBLIC_ENDPOINT",
                "XksProxyAuthenticationCredential": [
                    "AccessKeyId": Self.accessKeyID, "RawSecretAccessKey": Self.secret,
                ],
            ])
        #expect(created.code == nil, "\(created.message)")
        let id = try #require(created.object?["CustomKeyStoreId"] as? String)
        let described = try await call("DescribeCustomKeyStores", ["CustomKeyStoreId": id])
        #expect(!String(decoding: described.body, as: UTF8.self).contains(Self.secret))
        let stores = try #require(described.object?["CustomKeyStores"] as? [[String: Any]])
        #expect(stores.count == 1)
        #expect(stores[0]["ConnectionState"] as? String == "DISCONNECTED")
        #expect(stores[0]["CustomKeyStoreType"] as? String == "EXTERNAL_KEY_STORE")
        #expect(stores[0]["CreationDate"] is NSNumber)
        let proxy = try #require(stores[0]["XksProxyConfiguration"] as? [String: String])
        #expect(
            proxy == [
                "Connectivity": "PUBLIC_ENDPOINT", "AccessKeyId": Self.accessKeyID,
                "UriEndpoint": world.proxy.endpoint, "UriPath": "/json/kms/xks/v1",
            ])
        #expect(described.object?["Truncated"] as? Bool == false)

        #expect(
            try await call("UpdateCustomKeyStore", ["CustomKeyStoreId": id, "NewCustomKeyStoreName": "j"]).code == nil)
        #expect(
            try await call("DisconnectCustomKeyStore", ["CustomKeyStoreId": id]).code
                == "CustomKeyStoreInvalidStateException")
        #expect(try await call("ConnectCustomKeyStore", ["CustomKeyStoreId": id]).code == nil)
        let connected = try await call("DescribeCustomKeyStores", ["CustomKeyStoreName": "j"])
        let connectedEntry = try #require((connected.object?["CustomKeyStores"] as? [[String: Any]])?.first)
        #expect(connectedEntry["ConnectionState"] as? String == "CONNECTED")
        #expect(connectedEntry["ConnectionErrorCode"] == nil)
        #expect(try await call("DisconnectCustomKeyStore", ["CustomKeyStoreId": id]).code == nil)
        let refused = try await call(
            "CreateCustomKeyStore",
            [
                "CustomKeyStoreName": "j", "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
                "XksProxyUriEndpoint": world.proxy.endpoint, "XksProxyUriPath": "/other/kms/xks/v1",
                "XksProxyConnectivity": "PUBLIC_ENDPOINT",
                "XksProxyAuthenticationCredential": [
                    "AccessKeyId": Self.accessKeyID, "RawSecretAccessKey": Self.secret,
                ],
            ])
        #expect(refused.code == "CustomKeyStoreNameInUseException")
        #expect(!refused.message.contains(Self.secret))
        #expect(try await call("DeleteCustomKeyStore", ["CustomKeyStoreId": id]).code == nil)
        #expect(
            try await call("DeleteCustomKeyStore", ["CustomKeyStoreId": id]).code == "CustomKeyStoreNotFoundException")

        // Without credentials, nothing.
        let anonymous = AWSJSONTestClient(endpoint: try #require(stack.kmsd.awsJSONEndpoint), credentials: nil)
        let unsigned = try await anonymous.call(
            "DescribeCustomKeyStores", body: try JSONSerialization.data(withJSONObject: [String: Any]()))
        #expect(unsigned.code == "MissingAuthenticationTokenException")

        // The secret is stored wrapped only: no table of the database holds it in plaintext
        // (the audit log included), though both secrets were sent.
        let tables = try await stack.database.withClient { client in
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
            return (names, text)
        }
        #expect(tables.0.contains("kms_custom_key_stores"))
        #expect(!tables.1.contains(Self.secret))
        #expect(!tables.1.contains(Data(Self.secret.utf8).base64EncodedString()))
        await world.stop()
    }

    @Test func storesAreIAMPermissionsOfTheirOwnAccountOnly() async throws {
        let world = try await XKSWorld.start()
        let stack = world.stack
        let id = try await stack.client.call(
            KMSMethod.createCustomKeyStore, Self.create("mine", endpoint: world.proxy.endpoint)
        ).customKeyStoreID
        let policy = { (statements: String) in #"{"Version":"2012-10-17","Statement":[\#(statements)]}"# }

        // Another account with every permission its own policies can give: the store does not exist there.
        let (_, stranger) = try await stack.principal(
            "stranger", account: "444455556666",
            policies: ["all": policy(#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#)])
        #expect(try await Self.describe(stranger).isEmpty)
        #expect(await code { _ = try await Self.describe(stranger, id: id) } == "CustomKeyStoreNotFoundException")
        #expect(await code { _ = try await Self.describe(stranger, name: "mine") } == "CustomKeyStoreNotFoundException")
        let delete: KMSDeleteCustomKeyStoreRequest = Self.withID(id)
        #expect(
            await code { _ = try await stranger.call(KMSMethod.deleteCustomKeyStore, delete) }
                == "CustomKeyStoreNotFoundException")
        // ...and its own store of the same name and proxy is its own business.
        _ = try await stranger.call(KMSMethod.createCustomKeyStore, Self.create("mine", endpoint: world.proxy.endpoint))

        // A principal without policies, and one denied the operation explicitly.
        let (_, nobody) = try await stack.principal("nobody")
        #expect(await code { _ = try await Self.describe(nobody) } == "AccessDeniedException")
        #expect(
            await code { _ = try await nobody.call(KMSMethod.createCustomKeyStore, Self.create("x")) }
                == "AccessDeniedException")
        let (_, denied) = try await stack.principal(
            "denied",
            policies: [
                "p": policy(
                    """
                    {"Effect":"Allow","Action":"kms:*","Resource":"*"},
                    {"Effect":"Deny","Action":"kms:DeleteCustomKeyStore",\
                    "Resource":"arn:aws:kms:us-east-1:111122223333:key-store/\(id)"}
                    """)
            ])
        #expect(try await Self.describe(denied, id: id).count == 1)
        #expect(
            await code { _ = try await denied.call(KMSMethod.deleteCustomKeyStore, delete) } == "AccessDeniedException")
        // Refused before the lookup: a refused caller cannot tell whether a store exists.
        let missing: KMSDeleteCustomKeyStoreRequest = Self.withID("cks-0000000000000000f")
        #expect(
            await code { _ = try await nobody.call(KMSMethod.deleteCustomKeyStore, missing) } == "AccessDeniedException"
        )
        // Allowed on this one store's ARN only.
        let (_, scoped) = try await stack.principal(
            "scoped",
            policies: [
                "p": policy(
                    """
                    {"Effect":"Allow","Action":"kms:UpdateCustomKeyStore",\
                    "Resource":"arn:aws:kms:us-east-1:111122223333:key-store/\(id)"}
                    """)
            ])
        let rename: KMSUpdateCustomKeyStoreRequest = Self.withID(id) { $0.newCustomKeyStoreName = "scoped" }
        _ = try await scoped.call(KMSMethod.updateCustomKeyStore, rename)
        #expect(await code { _ = try await Self.describe(scoped) } == "AccessDeniedException")
        _ = try await stack.client.call(KMSMethod.deleteCustomKeyStore, delete)
        await world.stop()
    }
}

/// The requests that name one custom key store by id.
protocol CustomKeyStoreRequest: SwiftProtobuf.Message {
    var customKeyStoreID: String { get set }
}

extension KMSUpdateCustomKeyStoreRequest: CustomKeyStoreRequest {}
extension KMSDeleteCustomKeyStoreRequest: CustomKeyStoreRequest {}
extension KMSConnectCustomKeyStoreRequest: CustomKeyStoreRequest {}
extension KMSDisconnectCustomKeyStoreRequest: CustomKeyStoreRequest {}
