import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

@Suite struct CryptographyTests {
    @Test func dataKeysReEncryptAndRandom() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let a = try await kms.createKey()
        let b = try await kms.createKey()

        var generate = KMSGenerateDataKeyRequest()
        generate.keyID = a.arn
        generate.keySpec = .aes256
        generate.encryptionContext = ["bucket": "logs"]
        let dataKey = try await kms.call(KMSMethod.generateDataKey, generate)
        #expect(dataKey.plaintext.count == 32)
        #expect(dataKey.keyID == a.arn)
        #expect(
            try await kms.decrypt(dataKey.ciphertextBlob, context: ["bucket": "logs"]).plaintext == dataKey.plaintext)

        generate.clearKeySpec()
        generate.numberOfBytes = 1024
        #expect(try await kms.call(KMSMethod.generateDataKey, generate).plaintext.count == 1024)

        var withoutPlaintext = KMSGenerateDataKeyWithoutPlaintextRequest()
        withoutPlaintext.keyID = a.keyID
        withoutPlaintext.keySpec = .aes128
        let sealed = try await kms.call(KMSMethod.generateDataKeyWithoutPlaintext, withoutPlaintext)
        #expect(try await kms.decrypt(sealed.ciphertextBlob).plaintext.count == 16)

        let blob = try await kms.encrypt(a.keyID, [1, 2, 3], context: ["x": "1"])
        var reEncrypt = KMSReEncryptRequest()
        reEncrypt.ciphertextBlob = blob
        reEncrypt.sourceEncryptionContext = ["x": "1"]
        reEncrypt.destinationKeyID = b.keyID
        reEncrypt.destinationEncryptionContext = ["y": "2"]
        let moved = try await kms.call(KMSMethod.reEncrypt, reEncrypt)
        #expect(moved.sourceKeyID == a.arn)
        #expect(moved.keyID == b.arn)
        let opened = try await kms.decrypt(moved.ciphertextBlob, context: ["y": "2"])
        #expect(Array(opened.plaintext) == [1, 2, 3])
        #expect(opened.keyID == b.arn)

        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = 64
        let r1 = try await kms.call(KMSMethod.generateRandom, random).plaintext
        let r2 = try await kms.call(KMSMethod.generateRandom, random).plaintext
        #expect(r1.count == 64)
        #expect(r1 != r2)
        await stack.stop()
    }

    @Test func wrongContextTamperedBlobsAndWrongKeyAreRejected() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let a = try await kms.createKey()
        let b = try await kms.createKey()
        let blob = try await kms.encrypt(a.keyID, Array("secret".utf8), context: ["k": "v"])
        #expect(await code { _ = try await kms.decrypt(blob) } == "InvalidCiphertextException")
        #expect(await code { _ = try await kms.decrypt(blob, context: ["k": "w"]) } == "InvalidCiphertextException")
        #expect(
            await code { _ = try await kms.decrypt(blob, keyID: b.keyID, context: ["k": "v"]) }
                == "IncorrectKeyException")
        #expect(try await kms.decrypt(blob, keyID: "\(a.arn)", context: ["k": "v"]).plaintext.count == 6)
        for index in [0, 20, 60, 80, blob.count - 1] {
            var damaged = blob
            damaged[index] ^= 0x01
            let result = await code { _ = try await kms.decrypt(damaged, context: ["k": "v"]) }
            #expect(result == "InvalidCiphertextException", "byte \(index)")
        }
        #expect(await code { _ = try await kms.decrypt(Data("not a blob".utf8)) } == "InvalidCiphertextException")
        await stack.stop()
    }

    @Test func decryptWorksAfterKMSDAndWorkerRestart() async throws {
        let stack = try await KMSStack.start()
        let key = try await stack.client.createKey()
        let blob = try await stack.client.encrypt(key.keyID, [9, 8, 7])

        await stack.client.close()
        await stack.kmsd.stop()
        try await stack.kmsd.start()
        let afterKMSD = try stack.kmsd.client(credentials: stack.adminCredentials)
        #expect(Array(try await afterKMSD.decrypt(blob).plaintext) == [9, 8, 7])

        // kmsd keeps running and reconnects to the new worker by itself.
        await stack.worker.stop()
        try await stack.worker.start()
        #expect(Array(try await afterKMSD.decrypt(blob).plaintext) == [9, 8, 7])
        await afterKMSD.close()
        await stack.stop()
    }

    @Test func twoKMSDOnOneDatabaseSeeEachOthersChanges() async throws {
        let stack = try await KMSStack.start()
        // B keeps what it caches for an hour: only the change notification can make it see DisableKey.
        let other = try await stack.secondKMSD(arguments: ["--cache-seconds", "3600"])
        let kmsB = try other.client(credentials: stack.adminCredentials)
        let key = try await stack.client.createKey()
        try await stack.client.createAlias("alias/shared", key.keyID)
        let blob = try await kmsB.encrypt("alias/shared", [1])  // B caches key and alias

        try await stack.client.setEnabled(key.keyID, false)
        // No bound on how soon (a loaded machine may take seconds); the limit only ends a hang.
        var seenDisabled = false
        let hang = ContinuousClock.now + .seconds(120)
        while !seenDisabled && ContinuousClock.now < hang {
            seenDisabled = await code { _ = try await kmsB.encrypt("alias/shared", [1]) } == "DisabledException"
            if !seenDisabled { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(seenDisabled, "the second kmsd never saw DisableKey")
        #expect(await code { _ = try await kmsB.decrypt(blob) } == "DisabledException")
        await kmsB.close()
        await other.stop()
        await stack.stop()
    }

    @Test func noPlaintextOrDataKeyReachesTheDatabase() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await kms.createKey()
        var secrets: [Data] = []
        for _ in 0..<50 {
            var generate = KMSGenerateDataKeyRequest()
            generate.keyID = key.keyID
            generate.numberOfBytes = 32
            secrets.append(try await kms.call(KMSMethod.generateDataKey, generate).plaintext)
        }
        let marker = Data("plaintext-marker-8c1f2e".utf8)
        _ = try await kms.encrypt(key.keyID, Array(marker))
        secrets.append(marker)
        // Access key secrets too: the bootstrap admin's and an imported fixed pair.
        secrets.append(Data(stack.adminCredentials.secretAccessKey.utf8))
        var importKey = AdminCreateAccessKeyRequest()
        importKey.principalArn = "arn:aws:iam::111122223333:user/admin"
        importKey.accessKeyID = "AKIAIOSFODNN7EXAMPLE"
        importKey.secretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        _ = try await kms.call(AdminMethod.createAccessKey, importKey)
        secrets.append(Data(importKey.secretAccessKey.utf8))
        let dump = try await stack.database.withClient { client in
            var text = ""
            for table in [
                "kms_keys", "kms_key_materials", "kms_aliases", "kms_grants", "kms_schema_migrations",
                "kms_accounts", "kms_principals", "kms_access_keys", "kms_identity_policies",
            ] {
                for try await row in try await client.query("SELECT t::text FROM \(unescaped: table) t").decode(
                    String.self)
                {
                    text += row + "\n"
                }
            }
            return text
        }
        #expect(dump.contains("kms_keys") || dump.count > 100)
        for secret in secrets {
            let hex = secret.map { String(format: "%02x", $0) }.joined()
            #expect(!dump.contains(hex))
            #expect(!dump.contains(String(decoding: secret, as: UTF8.self)) || secret.count < 8)
            #expect(!dump.contains(secret.base64EncodedString()) || secret.count < 8)
        }
        await stack.stop()
    }
}
