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

    static func create(
        _ name: String, endpoint: String? = nil, connectivity: KMSXksProxyConnectivity = .publicEndpoint,
        type: KMSCustomKeyStoreType = .externalKeyStore
    ) -> KMSCreateCustomKeyStoreRequest {
        var request = KMSCreateCustomKeyStoreRequest()
        request.customKeyStoreName = name
        request.customKeyStoreType = type
        request.xksProxyUriEndpoint = endpoint ?? "https://\(name).example.com"
        request.xksProxyUriPath = "/kms/xks/v1"
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
        let stack = try await KMSStack.start()
        let client = stack.client
        let id = try await client.call(KMSMethod.createCustomKeyStore, Self.create("one")).customKeyStoreID
        #expect(id.hasPrefix("cks-") && id.count == 21)

        var entry = try #require(try await Self.describe(client, id: id).first)
        #expect(entry.customKeyStoreName == "one")
        #expect(entry.customKeyStoreType == .externalKeyStore)
        #expect(entry.connectionState == .disconnected)
        #expect(!entry.hasConnectionErrorCode)
        #expect(entry.xksProxyConfiguration.accessKeyID == Self.accessKeyID)
        #expect(entry.xksProxyConfiguration.uriEndpoint == "https://one.example.com")
        #expect(entry.xksProxyConfiguration.uriPath == "/kms/xks/v1")
        #expect(entry.xksProxyConfiguration.connectivity == .publicEndpoint)
        #expect(try await Self.describe(client, name: "one").map(\.customKeyStoreID) == [id])

        // Names and proxy URIs are unique in the account and region; no VPC; no XKS members for
        // AWS_CLOUDHSM (CloudHSMKeyStoreTests).
        #expect(
            await code { _ = try await client.call(KMSMethod.createCustomKeyStore, Self.create("one")) }
                == "CustomKeyStoreNameInUseException")
        #expect(
            await code {
                _ = try await client.call(
                    KMSMethod.createCustomKeyStore, Self.create("two", endpoint: "https://one.example.com"))
            } == "XksProxyUriInUseException")
        #expect(
            await code {
                _ = try await client.call(
                    KMSMethod.createCustomKeyStore, Self.create("vpc", connectivity: .vpcEndpointService))
            } == "UnsupportedOperationException")
        #expect(
            await code {
                _ = try await client.call(KMSMethod.createCustomKeyStore, Self.create("hsm", type: .awsCloudhsm))
            } == "ValidationException")
        var noCredential = Self.create("nocredential")
        noCredential.clearXksProxyAuthenticationCredential()
        #expect(
            await code { _ = try await client.call(KMSMethod.createCustomKeyStore, noCredential) }
                == "ValidationException")

        // DISCONNECTED: disconnecting again is refused. Connecting succeeds, as at AWS, though
        // the proxy cannot be reached (this test's host names resolve nowhere): FAILED, with
        // the reason; keys are created only in a CONNECTED store; a FAILED one is disconnected.
        let disconnect: KMSDisconnectCustomKeyStoreRequest = Self.withID(id)
        #expect(
            await code { _ = try await client.call(KMSMethod.disconnectCustomKeyStore, disconnect) }
                == "CustomKeyStoreInvalidStateException")
        let connect: KMSConnectCustomKeyStoreRequest = Self.withID(id)
        _ = try await client.call(KMSMethod.connectCustomKeyStore, connect)
        entry = try #require(try await Self.describe(client, id: id).first)
        #expect(entry.connectionState == .failed)
        #expect(entry.connectionErrorCode == .xksProxyNotReachable)
        var key = KMSCreateKeyRequest()
        key.origin = .externalKeyStore
        key.customKeyStoreID = id
        key.xksKeyID = "external-1"
        #expect(
            await code { _ = try await client.call(KMSMethod.createKey, key) } == "CustomKeyStoreInvalidStateException")
        _ = try await client.call(KMSMethod.disconnectCustomKeyStore, disconnect)
        entry = try #require(try await Self.describe(client, id: id).first)
        #expect(entry.connectionState == .disconnected && !entry.hasConnectionErrorCode)
        key.customKeyStoreID = "cks-0000000000000000f"
        #expect(
            await code { _ = try await client.call(KMSMethod.createKey, key) } == "CustomKeyStoreNotFoundException")
        key.clearXksKeyID()
        #expect(await code { _ = try await client.call(KMSMethod.createKey, key) } == "ValidationException")

        // Update: the name, endpoint (while DISCONNECTED), path and credential.
        let update: KMSUpdateCustomKeyStoreRequest = Self.withID(id) {
            $0.newCustomKeyStoreName = "renamed"
            $0.xksProxyUriEndpoint = "https://moved.example.com"
            $0.xksProxyUriPath = "/prefix/kms/xks/v2"
            $0.xksProxyAuthenticationCredential.accessKeyID = "ZYXWVUTSRQPONMLKJIHG"
            $0.xksProxyAuthenticationCredential.rawSecretAccessKey = String(Self.secret.reversed())
        }
        _ = try await client.call(KMSMethod.updateCustomKeyStore, update)
        entry = try #require(try await Self.describe(client, id: id).first)
        #expect(entry.customKeyStoreName == "renamed")
        #expect(entry.xksProxyConfiguration.uriEndpoint == "https://moved.example.com")
        #expect(entry.xksProxyConfiguration.uriPath == "/prefix/kms/xks/v2")
        #expect(entry.xksProxyConfiguration.accessKeyID == "ZYXWVUTSRQPONMLKJIHG")
        let other = try await client.call(KMSMethod.createCustomKeyStore, Self.create("other")).customKeyStoreID
        let clash: KMSUpdateCustomKeyStoreRequest = Self.withID(other) { $0.newCustomKeyStoreName = "renamed" }
        #expect(
            await code { _ = try await client.call(KMSMethod.updateCustomKeyStore, clash) }
                == "CustomKeyStoreNameInUseException")
        let vpc: KMSUpdateCustomKeyStoreRequest = Self.withID(other) { $0.xksProxyConnectivity = .vpcEndpointService }
        #expect(
            await code { _ = try await client.call(KMSMethod.updateCustomKeyStore, vpc) }
                == "UnsupportedOperationException")

        // Delete, once; then it is gone.
        let delete: KMSDeleteCustomKeyStoreRequest = Self.withID(id)
        _ = try await client.call(KMSMethod.deleteCustomKeyStore, delete)
        #expect(
            await code { _ = try await client.call(KMSMethod.deleteCustomKeyStore, delete) }
                == "CustomKeyStoreNotFoundException")
        #expect(await code { _ = try await Self.describe(client, id: id) } == "CustomKeyStoreNotFoundException")
        #expect(
            await code { _ = try await Self.describe(client, name: "renamed") } == "CustomKeyStoreNotFoundException")
        #expect(await code { _ = try await Self.describe(client, id: other, name: "other") } == "ValidationException")
        await stack.stop()
    }

    /// Concurrent creations of one name: one store, and AWS's exception for every other, never
    /// an internal error (the insert does nothing on a conflict and says which).
    @Test func concurrentCreationsOfOneNameMakeOneStore() async throws {
        let stack = try await KMSStack.start()
        let client = stack.client
        let codes = await withTaskGroup(of: String?.self) { group in
            for index in 0..<8 {
                group.addTask {
                    await code {
                        _ = try await client.call(
                            KMSMethod.createCustomKeyStore,
                            Self.create("same", endpoint: "https://same-\(index).example.com"))
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
        await stack.stop()
    }

    @Test func describingPagesByLimitAndMarker() async throws {
        let stack = try await KMSStack.start()
        var ids: [String] = []
        for index in 0..<5 {
            ids.append(
                try await stack.client.call(KMSMethod.createCustomKeyStore, Self.create("page-\(index)"))
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
        await stack.stop()
    }

    @Test func theAWSJSONAPIServesEveryOperationAndNeverShowsTheSecret() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        let json = AWSJSONTestClient(
            endpoint: try #require(stack.kmsd.awsJSONEndpoint), credentials: stack.adminCredentials)
        func call(_ operation: String, _ body: [String: Any]) async throws -> AWSJSONReply {
            try await json.call(operation, body: try JSONSerialization.data(withJSONObject: body))
        }
        let created = try await call(
            "CreateCustomKeyStore",
            [
                "CustomKeyStoreName": "json", "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
                "XksProxyUriEndpoint": "https://json.example.com", "XksProxyUriPath": "/kms/xks/v1",
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
                "UriEndpoint": "https://json.example.com", "UriPath": "/kms/xks/v1",
            ])
        #expect(described.object?["Truncated"] as? Bool == false)

        #expect(
            try await call("UpdateCustomKeyStore", ["CustomKeyStoreId": id, "NewCustomKeyStoreName": "j"]).code == nil)
        #expect(
            try await call("DisconnectCustomKeyStore", ["CustomKeyStoreId": id]).code
                == "CustomKeyStoreInvalidStateException")
        #expect(try await call("ConnectCustomKeyStore", ["CustomKeyStoreId": id]).code == nil)
        let failed = try await call("DescribeCustomKeyStores", ["CustomKeyStoreName": "j"])
        let failedEntry = try #require((failed.object?["CustomKeyStores"] as? [[String: Any]])?.first)
        #expect(failedEntry["ConnectionState"] as? String == "FAILED")
        #expect(failedEntry["ConnectionErrorCode"] as? String == "XKS_PROXY_NOT_REACHABLE")
        #expect(try await call("DisconnectCustomKeyStore", ["CustomKeyStoreId": id]).code == nil)
        let refused = try await call(
            "CreateCustomKeyStore",
            [
                "CustomKeyStoreName": "j", "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
                "XksProxyUriEndpoint": "https://other.example.com", "XksProxyUriPath": "/kms/xks/v1",
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
        await stack.stop()
    }

    @Test func storesAreIAMPermissionsOfTheirOwnAccountOnly() async throws {
        let stack = try await KMSStack.start()
        let id = try await stack.client.call(KMSMethod.createCustomKeyStore, Self.create("mine")).customKeyStoreID
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
        _ = try await stranger.call(KMSMethod.createCustomKeyStore, Self.create("mine"))

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
        await stack.stop()
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
