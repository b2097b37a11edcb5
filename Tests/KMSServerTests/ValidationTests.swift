import Foundation
import KMSClient
import KMSProto
import KMSRPC
import KMSTestSupport
import NIOCore
import NIOPosix
import Testing

/// Every validation rule answers with its AWS exception name, and nothing else is harmed.
@Suite struct ValidationTests {
    @Test func requestsOutsideTheLimitsAreRefusedByName() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await kms.createKey()

        #expect(await code { _ = try await kms.encrypt(key.keyID, []) } == "ValidationException")
        #expect(
            await code { _ = try await kms.encrypt(key.keyID, [UInt8](repeating: 0, count: 4097)) }
                == "ValidationException")
        #expect(await code { _ = try await kms.decrypt(Data()) } == "ValidationException")
        #expect(await code { _ = try await kms.encrypt("not-a-key", [1]) } == "NotFoundException")
        #expect(await code { _ = try await kms.encrypt(UUID().uuidString.lowercased(), [1]) } == "NotFoundException")
        #expect(await code { _ = try await kms.encrypt("alias/missing", [1]) } == "NotFoundException")
        #expect(
            await code { _ = try await kms.encrypt("arn:aws:kms:eu-west-9:111122223333:key/\(key.keyID)", [1]) }
                == "NotFoundException")

        var generate = KMSGenerateDataKeyRequest()
        generate.keyID = key.keyID
        #expect(await code { _ = try await kms.call(KMSMethod.generateDataKey, generate) } == "ValidationException")
        generate.keySpec = .aes256
        generate.numberOfBytes = 32
        #expect(await code { _ = try await kms.call(KMSMethod.generateDataKey, generate) } == "ValidationException")
        generate.clearKeySpec()
        for bad: Int32 in [0, 1025] {
            generate.numberOfBytes = bad
            #expect(await code { _ = try await kms.call(KMSMethod.generateDataKey, generate) } == "ValidationException")
        }
        var random = KMSGenerateRandomRequest()
        for bad: Int32 in [0, 1025] {
            random.numberOfBytes = bad
            #expect(await code { _ = try await kms.call(KMSMethod.generateRandom, random) } == "ValidationException")
        }

        var schedule = KMSScheduleKeyDeletionRequest()
        schedule.keyID = key.keyID
        for bad: Int32 in [6, 31] {
            schedule.pendingWindowInDays = bad
            #expect(
                await code { _ = try await kms.call(KMSMethod.scheduleKeyDeletion, schedule) } == "ValidationException")
        }
        schedule.keyID = "alias/anything"
        schedule.pendingWindowInDays = 7
        #expect(await code { _ = try await kms.call(KMSMethod.scheduleKeyDeletion, schedule) } == "NotFoundException")

        var list = KMSListKeysRequest()
        for bad: Int32 in [0, 1001] {
            list.limit = bad
            #expect(await code { _ = try await kms.call(KMSMethod.listKeys, list) } == "ValidationException")
        }
        list.clearLimit()
        list.marker = "!!garbage!!"
        #expect(await code { _ = try await kms.call(KMSMethod.listKeys, list) } == "InvalidMarkerException")

        var create = KMSCreateKeyRequest()
        create.description_p = String(repeating: "d", count: 8193)
        #expect(await code { _ = try await kms.call(KMSMethod.createKey, create) } == "ValidationException")
        create.description_p = ""
        create.keyUsage = .signVerify
        #expect(await code { _ = try await kms.call(KMSMethod.createKey, create) } == "ValidationException")
        create.clearKeyUsage()
        create.policy = "{not json"
        #expect(
            await code { _ = try await kms.call(KMSMethod.createKey, create) } == "MalformedPolicyDocumentException")

        for (name, expected) in [
            // AWS: a name without the prefix is a ValidationException (its model's pattern allows it).
            ("payments", "ValidationException"),
            ("alias/with:colon", "OK"),
            ("alias/", "InvalidAliasNameException"),
            ("alias/aws/s3", "InvalidAliasNameException"),
            ("alias/has space", "ValidationException"),
            ("alias/" + String(repeating: "a", count: 251), "ValidationException"),
        ] {
            #expect(await code { try await kms.createAlias(name, key.keyID) } ?? "OK" == expected, "\(name)")
        }
        try await kms.createAlias("alias/ok", key.keyID)
        #expect(await code { try await kms.createAlias("alias/via-alias", "alias/ok") } == "NotFoundException")

        var encrypt = KMSEncryptRequest()
        encrypt.keyID = key.keyID
        encrypt.plaintext = Data([1])
        encrypt.dryRun = true
        #expect(await code { _ = try await kms.call(KMSMethod.encrypt, encrypt) } == "DryRunOperationException")
        encrypt.dryRun = false
        encrypt.grantTokens = Array(repeating: "t", count: 11)
        #expect(await code { _ = try await kms.call(KMSMethod.encrypt, encrypt) } == "ValidationException")

        // Every operation is served; an empty Sign names no key.
        #expect(await code { _ = try await kms.call(KMSMethod.sign, KMSSignRequest()) } == "ValidationException")
        var sign = KMSSignRequest()
        sign.keyID = "alias/ok"
        sign.message = Data([1])
        sign.signingAlgorithm = .ecdsaSha256
        #expect(await code { _ = try await kms.call(KMSMethod.sign, sign) } == "InvalidKeyUsageException")

        // After all of that the service still serves.
        #expect(try await kms.decrypt(try await kms.encrypt("alias/ok", [5])).plaintext == Data([5]))
        await stack.stop()
    }

    /// The encryption context's shape and size are kmsd's to check, at the edge: before the key
    /// is looked up (a key that does not exist is not what the caller hears about), on either
    /// transport. kms-cryptod checks the size again, as a second line only.
    @Test func aBadEncryptionContextIsRefusedBeforeTheKeyIsResolved() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        let kms = stack.client
        let missing = UUID().uuidString.lowercased()
        let oversized = ["k": String(repeating: "x", count: 8192)]
        let emptyKey = ["": "v"]

        var encrypt = KMSEncryptRequest()
        encrypt.keyID = missing
        encrypt.plaintext = Data([1])
        #expect(await code { _ = try await kms.call(KMSMethod.encrypt, encrypt) } == "NotFoundException")
        for context in [oversized, emptyKey] {
            encrypt.encryptionContext = context
            #expect(await code { _ = try await kms.call(KMSMethod.encrypt, encrypt) } == "ValidationException")
        }
        var generate = KMSGenerateDataKeyRequest()
        generate.keyID = "alias/missing"
        generate.numberOfBytes = 32
        generate.encryptionContext = oversized
        #expect(await code { _ = try await kms.call(KMSMethod.generateDataKey, generate) } == "ValidationException")
        // A blob that names no key would be InvalidCiphertextException; the context comes first.
        var decrypt = KMSDecryptRequest()
        decrypt.ciphertextBlob = Data(repeating: 7, count: 64)
        #expect(await code { _ = try await kms.call(KMSMethod.decrypt, decrypt) } == "InvalidCiphertextException")
        decrypt.encryptionContext = emptyKey
        #expect(await code { _ = try await kms.call(KMSMethod.decrypt, decrypt) } == "ValidationException")
        var reEncrypt = KMSReEncryptRequest()
        reEncrypt.ciphertextBlob = Data(repeating: 7, count: 64)
        reEncrypt.destinationKeyID = missing
        reEncrypt.destinationEncryptionContext = oversized
        do {
            _ = try await kms.call(KMSMethod.reEncrypt, reEncrypt)
            Issue.record("a ReEncrypt with an oversized destination context was served")
        } catch {
            #expect(error.code == "ValidationException")
            #expect(error.message.contains("'destinationEncryptionContext'"), "\(error.message)")
        }

        let json = AWSJSONTestClient(
            endpoint: try #require(stack.kmsd.awsJSONEndpoint), credentials: stack.adminCredentials)
        func jsonEncrypt(_ context: [String: String]) async throws -> AWSJSONReply {
            let body: [String: Any] = ["KeyId": missing, "Plaintext": "AQ==", "EncryptionContext": context]
            return try await json.call("Encrypt", body: try JSONSerialization.data(withJSONObject: body))
        }
        #expect(try await jsonEncrypt(["purpose": "test"]).code == "NotFoundException")
        for context in [oversized, emptyKey] {
            let reply = try await jsonEncrypt(context)
            #expect(reply.code == "ValidationException")
            #expect(reply.message.contains("'encryptionContext'"), "\(reply.message)")
        }
        await stack.stop()
    }

    @Test func aMalformedFrameOnOneConnectionLeavesTheOthersServing() async throws {
        let stack = try await KMSStack.start()
        let key = try await stack.client.createKey()
        let (host, port) = (
            String(stack.kmsd.endpoint.split(separator: ":")[0]), Int(stack.kmsd.endpoint.split(separator: ":")[1])!
        )
        let raw = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(
            host: host, port: port
        ).get()
        var garbage = ByteBuffer()
        garbage.writeInteger(UInt32(0x7fff_ffff))
        garbage.writeBytes([1, 2, 3])
        try await raw.writeAndFlush(garbage)
        try await raw.closeFuture.get()

        #expect(try await stack.client.decrypt(try await stack.client.encrypt(key.keyID, [3])).plaintext == Data([3]))
        await stack.stop()
    }
}
