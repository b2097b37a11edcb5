import Foundation
import KMSClient
import KMSCrypto
import KMSProto
import KMSTestSupport
import KMSWorkerProto
import PostgresNIO
import Testing

/// Keys in AWS_CLOUDHSM custom key stores over a SoftHSM2 token: their material is a token key
/// that never leaves the token (the database holds its id only), every cryptographic operation is
/// the token's, and the key is unusable (Unavailable) while its store is not CONNECTED.
@Suite struct CloudHSMKeyTests {
    /// A stack whose kms-cryptod allows SoftHSM2's module, with a CONNECTED store on a new token.
    struct World {
        let softhsm: SoftHSMToken
        let stack: KMSStack
        let storeID: String
        let workerArguments: [String]

        static func start(kmsdArguments: [String] = []) async throws -> World {
            let softhsm = try await SoftHSMToken()
            let workerArguments = ["--pkcs11-module", "softhsm=\(softhsm.modulePath)"]
            let stack = try await KMSStack.start(
                kmsdArguments: kmsdArguments, workerArguments: workerArguments, workerEnvironment: softhsm.environment)
            let created = try await stack.client.call(
                KMSMethod.createCustomKeyStore,
                CloudHSMKeyStoreTests.create("hsm", clusterID: "softhsm/\(softhsm.label)", password: softhsm.pin))
            let world = World(
                softhsm: softhsm, stack: stack, storeID: created.customKeyStoreID, workerArguments: workerArguments)
            try await world.connect()
            return world
        }

        func connect() async throws {
            var connect = KMSConnectCustomKeyStoreRequest()
            connect.customKeyStoreID = self.storeID
            _ = try await self.stack.client.call(KMSMethod.connectCustomKeyStore, connect)
        }

        func disconnect() async throws {
            var disconnect = KMSDisconnectCustomKeyStoreRequest()
            disconnect.customKeyStoreID = self.storeID
            _ = try await self.stack.client.call(KMSMethod.disconnectCustomKeyStore, disconnect)
        }

        func createKey() async throws -> KMSKeyMetadata {
            var request = KMSCreateKeyRequest()
            request.origin = .awsCloudhsm
            request.customKeyStoreID = self.storeID
            return try await self.stack.client.call(KMSMethod.createKey, request).keyMetadata
        }

        /// The rows of a key's material: (wrapped bytes, root key id is null).
        func materialRows(_ keyID: String) async throws -> [(Int, Bool)] {
            try await self.stack.database.withClient { client in
                var found: [(Int, Bool)] = []
                let rows = try await client.query(
                    """
                    SELECT octet_length(wrapped), root_key_id IS NULL FROM kms_key_materials
                    WHERE key_id = \(UUID(uuidString: keyID)!)
                    """,
                    logger: .init(label: "test"))
                for try await row in rows.decode((Int, Bool).self) { found.append(row) }
                return found
            }
        }
    }

    static func encrypt(_ client: KMSClient, _ keyID: String, _ text: String, _ context: [String: String] = [:])
        async throws -> Data
    {
        var request = KMSEncryptRequest()
        request.keyID = keyID
        request.plaintext = Data(text.utf8)
        request.encryptionContext = context
        return try await client.call(KMSMethod.encrypt, request).ciphertextBlob
    }

    static func decrypt(_ client: KMSClient, _ blob: Data, _ context: [String: String] = [:]) async throws
        -> KMSDecryptResponse
    {
        var request = KMSDecryptRequest()
        request.ciphertextBlob = blob
        request.encryptionContext = context
        return try await client.call(KMSMethod.decrypt, request)
    }

    @Test func aTokenKeyEncryptsDecryptsAndMakesDataKeysInTheToken() async throws {
        let world = try await World.start()
        let client = world.stack.client
        let key = try await world.createKey()
        #expect(key.origin == .awsCloudhsm && key.keyState == .enabled && key.keySpec == .symmetricDefault)
        #expect(key.customKeyStoreID == world.storeID)
        #expect(key.cloudHsmClusterID == "softhsm/\(world.softhsm.label)")
        var describe = KMSDescribeKeyRequest()
        describe.keyID = key.keyID
        #expect(
            try await client.call(KMSMethod.describeKey, describe).keyMetadata.cloudHsmClusterID
                == "softhsm/\(world.softhsm.label)")
        // Only the material's id is stored: nothing wrapped, no root key.
        let rows = try await world.materialRows(key.keyID)
        #expect(rows.count == 1 && rows.allSatisfy { $0.0 == 0 && $0.1 })

        let context = ["purpose": "hsm"]
        let blob = try await Self.encrypt(client, key.keyID, "held by the token", context)
        #expect(blob.first == 2)
        let opened = try await Self.decrypt(client, blob, context)
        #expect(opened.plaintext == Data("held by the token".utf8) && opened.keyID == key.arn)
        #expect(
            await code { _ = try await Self.decrypt(client, blob, ["purpose": "other"]) }
                == "InvalidCiphertextException")
        var tampered = blob
        tampered[tampered.count - 1] ^= 1
        #expect(await code { _ = try await Self.decrypt(client, tampered, context) } == "InvalidCiphertextException")

        var dataKey = KMSGenerateDataKeyRequest()
        dataKey.keyID = key.keyID
        dataKey.keySpec = .aes256
        let generated = try await client.call(KMSMethod.generateDataKey, dataKey)
        #expect(generated.plaintext.count == 32 && generated.ciphertextBlob.first == 2)
        #expect(try await Self.decrypt(client, generated.ciphertextBlob).plaintext == generated.plaintext)
        var without = KMSGenerateDataKeyWithoutPlaintextRequest()
        without.keyID = key.keyID
        without.numberOfBytes = 64
        let sealed = try await client.call(KMSMethod.generateDataKeyWithoutPlaintext, without).ciphertextBlob
        #expect(try await Self.decrypt(client, sealed).plaintext.count == 64)

        // ReEncrypt out of the token and back into it.
        let plain = try await client.call(KMSMethod.createKey, KMSCreateKeyRequest()).keyMetadata
        var out = KMSReEncryptRequest()
        out.ciphertextBlob = blob
        out.sourceEncryptionContext = context
        out.destinationKeyID = plain.keyID
        let outBlob = try await client.call(KMSMethod.reEncrypt, out)
        #expect(outBlob.ciphertextBlob.first == 1 && outBlob.sourceKeyID == key.arn)
        var into = KMSReEncryptRequest()
        into.ciphertextBlob = outBlob.ciphertextBlob
        into.destinationKeyID = key.keyID
        let intoBlob = try await client.call(KMSMethod.reEncrypt, into).ciphertextBlob
        #expect(intoBlob.first == 2)
        #expect(try await Self.decrypt(client, intoBlob).plaintext == Data("held by the token".utf8))
        // A ciphertext naming the token key's id under the other format is refused.
        var other = KMSDecryptRequest()
        other.ciphertextBlob = intoBlob
        other.keyID = plain.keyID
        #expect(await code { _ = try await client.call(KMSMethod.decrypt, other) } == "IncorrectKeyException")

        // GenerateRandom from the token; an unknown store is not found.
        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = 48
        random.customKeyStoreID = world.storeID
        let bytes = try await client.call(KMSMethod.generateRandom, random).plaintext
        #expect(bytes.count == 48 && bytes != Data(count: 48))
        random.customKeyStoreID = "cks-0123456789abcdef0"
        #expect(
            await code { _ = try await client.call(KMSMethod.generateRandom, random) }
                == "CustomKeyStoreNotFoundException")

        // What AWS does not do with a key in a CloudHSM key store.
        var pair = KMSGenerateDataKeyPairRequest()
        pair.keyID = key.keyID
        pair.keyPairSpec = .eccNistP256
        #expect(
            await code { _ = try await client.call(KMSMethod.generateDataKeyPair, pair) }
                == "UnsupportedOperationException")
        var rotation = KMSEnableKeyRotationRequest()
        rotation.keyID = key.keyID
        #expect(
            await code { _ = try await client.call(KMSMethod.enableKeyRotation, rotation) }
                == "UnsupportedOperationException")
        var onDemand = KMSRotateKeyOnDemandRequest()
        onDemand.keyID = key.keyID
        #expect(
            await code { _ = try await client.call(KMSMethod.rotateKeyOnDemand, onDemand) }
                == "UnsupportedOperationException")
        var asymmetric = KMSCreateKeyRequest()
        asymmetric.origin = .awsCloudhsm
        asymmetric.customKeyStoreID = world.storeID
        asymmetric.keySpec = .eccNistP256
        asymmetric.keyUsage = .signVerify
        #expect(await code { _ = try await client.call(KMSMethod.createKey, asymmetric) } == "ValidationException")
        var multiRegion = KMSCreateKeyRequest()
        multiRegion.origin = .awsCloudhsm
        multiRegion.customKeyStoreID = world.storeID
        multiRegion.multiRegion = true
        #expect(
            await code { _ = try await client.call(KMSMethod.createKey, multiRegion) }
                == "UnsupportedOperationException")
        await world.stack.stop()
    }

    /// While the store is not CONNECTED its keys show Unavailable and refuse to work; keys are not
    /// created in it, and the store cannot be deleted while it has keys. After a reconnect, and after
    /// kms-cryptod restarts (it logs in again from the wrapped PIN), old ciphertexts decrypt.
    @Test func aDisconnectedStoresKeysAreUnavailableAndComeBack() async throws {
        let world = try await World.start()
        let client = world.stack.client
        let key = try await world.createKey()
        let blob = try await Self.encrypt(client, key.keyID, "kept")
        try await world.disconnect()
        var describe = KMSDescribeKeyRequest()
        describe.keyID = key.keyID
        #expect(try await client.call(KMSMethod.describeKey, describe).keyMetadata.keyState == .unavailable)
        #expect(await code { _ = try await Self.encrypt(client, key.keyID, "no") } == "KMSInvalidStateException")
        #expect(await code { _ = try await Self.decrypt(client, blob) } == "KMSInvalidStateException")
        #expect(await code { _ = try await world.createKey() } == "CustomKeyStoreInvalidStateException")
        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = 16
        random.customKeyStoreID = world.storeID
        #expect(
            await code { _ = try await client.call(KMSMethod.generateRandom, random) }
                == "CustomKeyStoreInvalidStateException")
        var delete = KMSDeleteCustomKeyStoreRequest()
        delete.customKeyStoreID = world.storeID
        #expect(
            await code { _ = try await client.call(KMSMethod.deleteCustomKeyStore, delete) }
                == "CustomKeyStoreHasCMKsException")

        try await world.connect()
        #expect(try await Self.decrypt(client, blob).plaintext == Data("kept".utf8))
        await world.stack.worker.stop()
        try await world.stack.worker.start(
            extraArguments: world.workerArguments, childEnvironment: world.softhsm.environment)
        var opened: Data?
        for _ in 0..<50 where opened == nil {
            opened = try? await Self.decrypt(client, blob).plaintext
            if opened == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(opened == Data("kept".utf8))
        await world.stack.stop()
    }

    /// The AWS JSON API serves token keys like any other, and authorizes them like any other: a
    /// principal without permissions and another account are refused.
    @Test func theAWSJSONAPIServesTokenKeysAndAuthorizesThem() async throws {
        let world = try await World.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        let stack = world.stack
        let json = AWSJSONTestClient(
            endpoint: try #require(stack.kmsd.awsJSONEndpoint), credentials: stack.adminCredentials)
        func call(_ client: AWSJSONTestClient, _ operation: String, _ body: [String: Any]) async throws
            -> AWSJSONReply
        {
            try await client.call(operation, body: try JSONSerialization.data(withJSONObject: body))
        }
        let created = try await call(json, "CreateKey", ["Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": world.storeID])
        #expect(created.code == nil, "\(created.message)")
        let metadata = try #require(created.object?["KeyMetadata"] as? [String: Any])
        let arn = try #require(metadata["Arn"] as? String)
        #expect(metadata["Origin"] as? String == "AWS_CLOUDHSM")
        #expect(metadata["CloudHsmClusterId"] as? String == "softhsm/\(world.softhsm.label)")
        let encrypted = try await call(
            json, "Encrypt", ["KeyId": arn, "Plaintext": Data("json".utf8).base64EncodedString()])
        #expect(encrypted.code == nil, "\(encrypted.message)")
        let blob = try #require(encrypted.object?["CiphertextBlob"] as? String)
        let decrypted = try await call(json, "Decrypt", ["CiphertextBlob": blob])
        #expect(decrypted.object?["Plaintext"] as? String == Data("json".utf8).base64EncodedString())
        let dataKey = try await call(json, "GenerateDataKey", ["KeyId": arn, "NumberOfBytes": 32])
        #expect(dataKey.code == nil, "\(dataKey.message)")

        let client = stack.client
        for (name, sameAccount, credentials) in try await client.outsiders() {
            let other = AWSJSONTestClient(endpoint: try #require(stack.kmsd.awsJSONEndpoint), credentials: credentials)
            let refused = try await call(
                other, "Encrypt", ["KeyId": arn, "Plaintext": Data("x".utf8).base64EncodedString()])
            #expect(refused.code == "AccessDeniedException", "\(name): \(refused.message)")
            let unopened = try await call(other, "Decrypt", ["CiphertextBlob": blob])
            #expect(unopened.code == "AccessDeniedException", "\(name): \(unopened.message)")
            let created = try await call(
                other, "CreateKey", ["Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": world.storeID])
            // Another account's store is not found; a principal without kms:CreateKey is denied.
            #expect(
                created.code == (sameAccount ? "AccessDeniedException" : "CustomKeyStoreNotFoundException"),
                "\(name): \(created.message)")
        }
        await stack.stop()
    }

    /// Deleting a key destroys its token key once its waiting period is over (best effort, as at
    /// AWS: a store not connected then leaves it in the token).
    @Test func aDeletedKeysTokenKeyIsDestroyed() async throws {
        let world = try await World.start(kmsdArguments: ["--reaper-interval-seconds", "1"])
        let client = world.stack.client
        let key = try await world.createKey()
        let blob = try await Self.encrypt(client, key.keyID, "soon gone")
        let materialID = try #require(TokenCiphertext.parse([UInt8](blob)).materialID)
        var schedule = KMSScheduleKeyDeletionRequest()
        schedule.keyID = key.keyID
        schedule.pendingWindowInDays = 7
        _ = try await client.call(KMSMethod.scheduleKeyDeletion, schedule)
        let wrappedPIN = try await world.stack.database.withClient { client in
            _ = try await client.query(
                """
                UPDATE kms_keys SET deletion_date = now() - interval '1 second'
                WHERE key_id = \(UUID(uuidString: key.keyID)!)
                """,
                logger: .init(label: "test"))
            var pin = Data()
            let rows = try await client.query(
                "SELECT cloudhsm_wrapped_pin FROM kms_custom_key_stores WHERE custom_key_store_id = \(world.storeID)",
                logger: .init(label: "test"))
            for try await value in rows.decode(Data.self) { pin = value }
            return pin
        }
        var gone = false
        for _ in 0..<100 where !gone {
            gone = await code { _ = try await Self.decrypt(client, blob) } == "InvalidCiphertextException"
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone)
        // The token no longer holds it: destroying it again finds nothing to destroy.
        var destroy = WorkerDestroyTokenKeyRequest()
        destroy.token.customKeyStoreID = world.storeID
        destroy.token.module = "softhsm"
        destroy.token.tokenLabel = world.softhsm.label
        destroy.token.wrappedPin = wrappedPIN
        destroy.key.keyID = key.keyID
        destroy.key.keyArn = key.arn
        destroy.key.material.materialID = Data(materialID.bytes)
        let connection = try await world.stack.worker.connect()
        #expect(try await connection.call(WorkerMethod.destroyTokenKey, destroy).destroyed == false)
        await connection.close()
        await world.stack.stop()
    }
}
