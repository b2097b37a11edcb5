import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import KMSXKS
import Testing

/// Keys in an EXTERNAL_KEY_STORE store on a real stack against FakeXKSProxy: CreateKey asks the
/// proxy for the external key (AWS's exceptions when it is missing, unfit or the proxy fails),
/// DescribeKey shows the link and Unavailable while the store is not CONNECTED, a store with
/// keys is not deleted, such keys do not rotate, and they encrypt twice (their material, then the
/// external key).
@Suite struct XKSStoreKeyTests {
    typealias Stores = CustomKeyStoreTests

    static func keyRequest(store: String, xksKeyID: String) -> KMSCreateKeyRequest {
        var key = KMSCreateKeyRequest()
        key.origin = .externalKeyStore
        key.customKeyStoreID = store
        key.xksKeyID = xksKeyID
        return key
    }

    @Test func keysInAnExternalKeyStoreFollowTheProxysExternalKeys() async throws {
        let world = try await XKSWorld.start()
        let client = world.stack.client
        let proxy = world.proxy
        let store = try await client.call(
            KMSMethod.createCustomKeyStore, Stores.create("keys", endpoint: proxy.endpoint)
        ).customKeyStoreID
        _ = try await client.call(
            KMSMethod.connectCustomKeyStore, Stores.withID(store) as KMSConnectCustomKeyStoreRequest)

        // A key linked to the proxy's external key, with material of its own.
        let created = try await client.call(
            KMSMethod.createKey, Self.keyRequest(store: store, xksKeyID: "external-1")
        ).keyMetadata
        #expect(created.origin == .externalKeyStore)
        #expect(created.customKeyStoreID == store)
        #expect(created.xksKeyConfiguration.id == "external-1")
        #expect(created.keyState == .enabled)
        var describe = KMSDescribeKeyRequest()
        describe.keyID = created.keyID
        var shown = try await client.call(KMSMethod.describeKey, describe).keyMetadata
        #expect(shown.customKeyStoreID == store && shown.xksKeyConfiguration.id == "external-1")
        #expect(shown.keyState == .enabled)

        // Not rotated (as at AWS).
        var rotation = KMSEnableKeyRotationRequest()
        rotation.keyID = created.keyID
        #expect(
            await code { _ = try await client.call(KMSMethod.enableKeyRotation, rotation) }
                == "UnsupportedOperationException")
        var onDemand = KMSRotateKeyOnDemandRequest()
        onDemand.keyID = created.keyID
        #expect(
            await code { _ = try await client.call(KMSMethod.rotateKeyOnDemand, onDemand) }
                == "UnsupportedOperationException")

        // Double encryption: the blob is the outer format (version 3); Decrypt undoes both layers.
        var encrypt = KMSEncryptRequest()
        encrypt.keyID = created.keyID
        encrypt.plaintext = Data("secret".utf8)
        encrypt.encryptionContext = ["purpose": "test"]
        let blob = try await client.call(KMSMethod.encrypt, encrypt).ciphertextBlob
        #expect(blob.first == 3)
        var decrypt = KMSDecryptRequest()
        decrypt.ciphertextBlob = blob
        decrypt.encryptionContext = ["purpose": "test"]
        let opened = try await client.call(KMSMethod.decrypt, decrypt)
        #expect(opened.plaintext == Data("secret".utf8) && opened.keyID == created.arn)
        // A proxy whose IVs are 16 bytes (the spec allows 12 or 16): kept in the blob, sent back on Decrypt.
        proxy.ivLength.withLock { $0 = 16 }
        let longIV = try await client.call(KMSMethod.encrypt, encrypt).ciphertextBlob
        #expect(longIV.first == 3 && longIV[1 + 16 + 32] == 16)
        decrypt.ciphertextBlob = longIV
        #expect(try await client.call(KMSMethod.decrypt, decrypt).plaintext == Data("secret".utf8))
        decrypt.ciphertextBlob = blob
        #expect(try await client.call(KMSMethod.decrypt, decrypt).plaintext == Data("secret".utf8))
        // Any other length is not the API's: the proxy's answer is invalid.
        proxy.ivLength.withLock { $0 = 13 }
        #expect(
            await code { _ = try await client.call(KMSMethod.encrypt, encrypt) } == "XksProxyInvalidResponseException")
        proxy.ivLength.withLock { $0 = 12 }
        // Data keys and ReEncrypt: into and out of the external key store's key.
        var dataKey = KMSGenerateDataKeyRequest()
        dataKey.keyID = created.keyID
        dataKey.keySpec = .aes256
        let generated = try await client.call(KMSMethod.generateDataKey, dataKey)
        #expect(generated.ciphertextBlob.first == 3)
        var back = KMSDecryptRequest()
        back.ciphertextBlob = generated.ciphertextBlob
        #expect(try await client.call(KMSMethod.decrypt, back).plaintext == generated.plaintext)
        var withoutPlaintext = KMSGenerateDataKeyWithoutPlaintextRequest()
        withoutPlaintext.keyID = created.keyID
        withoutPlaintext.numberOfBytes = 16
        back.ciphertextBlob = try await client.call(KMSMethod.generateDataKeyWithoutPlaintext, withoutPlaintext)
            .ciphertextBlob
        #expect(try await client.call(KMSMethod.decrypt, back).plaintext.count == 16)
        // Data key pairs are not made under a key in a custom key store, as at AWS.
        var pair = KMSGenerateDataKeyPairRequest()
        pair.keyID = created.keyID
        pair.keyPairSpec = .eccNistP256
        #expect(
            await code { _ = try await client.call(KMSMethod.generateDataKeyPair, pair) }
                == "UnsupportedOperationException")
        var pairWithout = KMSGenerateDataKeyPairWithoutPlaintextRequest()
        pairWithout.keyID = created.keyID
        pairWithout.keyPairSpec = .eccNistP256
        #expect(
            await code { _ = try await client.call(KMSMethod.generateDataKeyPairWithoutPlaintext, pairWithout) }
                == "UnsupportedOperationException")
        let plain = try await client.call(KMSMethod.createKey, KMSCreateKeyRequest()).keyMetadata
        var out = KMSReEncryptRequest()
        out.ciphertextBlob = blob
        out.sourceEncryptionContext = ["purpose": "test"]
        out.destinationKeyID = plain.keyID
        let outBlob = try await client.call(KMSMethod.reEncrypt, out).ciphertextBlob
        #expect(outBlob.first == 1)
        var into = KMSReEncryptRequest()
        into.ciphertextBlob = outBlob
        into.destinationKeyID = created.keyID
        into.destinationEncryptionContext = ["purpose": "again"]
        back.ciphertextBlob = try await client.call(KMSMethod.reEncrypt, into).ciphertextBlob
        #expect(back.ciphertextBlob.first == 3)
        back.encryptionContext = ["purpose": "again"]
        #expect(try await client.call(KMSMethod.decrypt, back).plaintext == Data("secret".utf8))

        func decryption(_ change: (inout KMSDecryptRequest) -> Void = { _ in }) async -> String? {
            var request = decrypt
            change(&request)
            return await code { _ = try await client.call(KMSMethod.decrypt, request) }
        }
        #expect(await decryption { $0.encryptionContext = ["purpose": "other"] } == "InvalidCiphertextException")
        #expect(
            await decryption { $0.ciphertextBlob[$0.ciphertextBlob.count - 1] ^= 1 } == "InvalidCiphertextException")
        // The proxy's failures: AWS's exceptions, and kmsd serves on.
        proxy.behaviour.withLock { $0 = .garbage }
        #expect(await decryption() == "XksProxyInvalidResponseException")
        #expect(
            await code { _ = try await client.call(KMSMethod.encrypt, encrypt) } == "XksProxyInvalidResponseException")
        proxy.behaviour.withLock { $0 = .silent }
        #expect(await decryption() == "DependencyTimeoutException")
        proxy.behaviour.withLock { $0 = .unauthorized }
        #expect(await decryption() == "XksProxyIncorrectAuthenticationCredentialException")
        proxy.behaviour.withLock { $0 = .healthy }
        // The external key gone: nothing decrypts; back: it does again.
        let external = try #require(proxy.keys.withLock { $0.removeValue(forKey: "external-1") })
        #expect(await decryption() == "XksKeyNotFoundException")
        proxy.keys.withLock { $0["external-1"] = external }
        #expect(await decryption() == nil)

        // External keys the proxy does not know, or that cannot serve: AWS's exceptions.
        proxy.keys.withLock {
            $0["disabled"] = XKSGetKeyMetadataResponse(keyStatus: "DISABLED")
            $0["small"] = XKSGetKeyMetadataResponse(keySpec: "AES_128", keyStatus: "ENABLED")
            $0["encrypt-only"] = XKSGetKeyMetadataResponse(keyUsage: ["ENCRYPT"], keyStatus: "ENABLED")
            $0["external-2"] = XKSGetKeyMetadataResponse(keyStatus: "ENABLED")
        }
        func creation(_ xksKeyID: String) async -> String? {
            await code {
                _ = try await client.call(KMSMethod.createKey, Self.keyRequest(store: store, xksKeyID: xksKeyID))
            }
        }
        #expect(await creation("missing") == "XksKeyNotFoundException")
        #expect(await creation("external-1") == "XksKeyAlreadyInUseException")
        for unfit in ["disabled", "small", "encrypt-only"] {
            #expect(await creation(unfit) == "XksKeyInvalidConfigurationException", "\(unfit)")
        }
        // A proxy that answers garbage, or not at all: AWS's exceptions, and kmsd serves on.
        proxy.behaviour.withLock { $0 = .garbage }
        #expect(await creation("external-2") == "XksProxyInvalidResponseException")
        proxy.behaviour.withLock { $0 = .silent }
        #expect(await creation("external-2") == "XksProxyUriUnreachableException")
        proxy.behaviour.withLock { $0 = .unauthorized }
        #expect(await creation("external-2") == "XksProxyIncorrectAuthenticationCredentialException")
        proxy.behaviour.withLock { $0 = .healthy }
        shown = try await client.call(KMSMethod.describeKey, describe).keyMetadata
        #expect(shown.keyState == .enabled)

        // Disconnected: the key shows Unavailable; the store has a key and is not deleted.
        _ = try await client.call(
            KMSMethod.disconnectCustomKeyStore, Stores.withID(store) as KMSDisconnectCustomKeyStoreRequest)
        shown = try await client.call(KMSMethod.describeKey, describe).keyMetadata
        #expect(shown.keyState == .unavailable && !shown.enabled)
        #expect(await decryption() == "KMSInvalidStateException")
        #expect(
            await code {
                _ = try await client.call(
                    KMSMethod.deleteCustomKeyStore, Stores.withID(store) as KMSDeleteCustomKeyStoreRequest)
            } == "CustomKeyStoreHasCMKsException")
        await world.stop()
    }

    /// Through AWS JSON: CreateKey, DescribeKey, Encrypt and Decrypt of a key in the store; other
    /// principals (without permissions, of another account) are denied before the proxy is asked.
    @Test func theAWSJSONAPIServesKeysInAnExternalKeyStoreAndAuthorizesThemLikeOthers() async throws {
        let world = try await XKSWorld.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        let stack = world.stack
        let client = stack.client
        let store = try await client.call(
            KMSMethod.createCustomKeyStore, Stores.create("json", endpoint: world.proxy.endpoint)
        ).customKeyStoreID
        _ = try await client.call(
            KMSMethod.connectCustomKeyStore, Stores.withID(store) as KMSConnectCustomKeyStoreRequest)
        let json = AWSJSONTestClient(
            endpoint: try #require(stack.kmsd.awsJSONEndpoint), credentials: stack.adminCredentials)
        func call(_ operation: String, _ body: [String: Any]) async throws -> AWSJSONReply {
            try await json.call(operation, body: try JSONSerialization.data(withJSONObject: body))
        }
        let created = try await call(
            "CreateKey", ["Origin": "EXTERNAL_KEY_STORE", "CustomKeyStoreId": store, "XksKeyId": "external-1"])
        #expect(created.code == nil, "\(created.message)")
        let metadata = try #require(created.object?["KeyMetadata"] as? [String: Any])
        let keyID = try #require(metadata["KeyId"] as? String)
        #expect(metadata["CustomKeyStoreId"] as? String == store)
        #expect((metadata["XksKeyConfiguration"] as? [String: String]) == ["Id": "external-1"])
        #expect(metadata["Origin"] as? String == "EXTERNAL_KEY_STORE")
        let encrypted = try await call(
            "Encrypt", ["KeyId": keyID, "Plaintext": Data("json secret".utf8).base64EncodedString()])
        #expect(encrypted.code == nil, "\(encrypted.message)")
        let blob = try #require(encrypted.object?["CiphertextBlob"] as? String)
        #expect(Data(base64Encoded: blob)?.first == 3)
        let decrypted = try await call("Decrypt", ["CiphertextBlob": blob])
        #expect(decrypted.code == nil, "\(decrypted.message)")
        #expect(decrypted.object?["Plaintext"] as? String == Data("json secret".utf8).base64EncodedString())

        // A principal of the key's account without permissions, and one of another account.
        var others: [KMSClient] = []
        for outsider in try await client.outsiders() {
            others.append(try stack.kmsd.client(credentials: outsider.credentials))
        }
        let asked = world.proxy.requests.withLock { $0 }
        let arn = try #require(metadata["Arn"] as? String)
        for other in others {
            var encrypt = KMSEncryptRequest()
            encrypt.keyID = arn
            encrypt.plaintext = Data("x".utf8)
            #expect(await code { _ = try await other.call(KMSMethod.encrypt, encrypt) } == "AccessDeniedException")
            var decrypt = KMSDecryptRequest()
            decrypt.ciphertextBlob = try #require(Data(base64Encoded: blob))
            #expect(await code { _ = try await other.call(KMSMethod.decrypt, decrypt) } == "AccessDeniedException")
            await other.close()
        }
        #expect(world.proxy.requests.withLock { $0 } == asked)
        await world.stop()
    }
}
