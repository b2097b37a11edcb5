import Foundation
import KMSClient
import KMSDomain
import KMSProto
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// The whole life of a key through real kmsd, kms-cryptod and PostgreSQL processes.
@Suite struct KeyLifecycleTests {
    @Test func createAliasEncryptDisableEnableDeleteAndReap() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--reaper-interval-seconds", "1"])
        let kms = stack.client
        let key = try await kms.createKey("payments")
        #expect(key.keyState == .enabled)
        #expect(key.enabled)
        #expect(key.keySpec == .symmetricDefault)
        #expect(key.keyUsage == .encryptDecrypt)
        #expect(key.arn == "arn:aws:kms:us-east-1:111122223333:key/\(key.keyID)")
        #expect(key.currentKeyMaterialID.count == 64)

        try await kms.createAlias("alias/payments", key.keyID)
        let blob = try await kms.encrypt("alias/payments", Array("card 4111".utf8), context: ["order": "17"])
        let plain = try await kms.decrypt(blob, context: ["order": "17"])
        #expect(Array(plain.plaintext) == Array("card 4111".utf8))
        #expect(plain.keyID == key.arn)

        // By every form of KeyId.
        for reference in [key.keyID, key.arn, "alias/payments", "arn:aws:kms:us-east-1:111122223333:alias/payments"] {
            #expect(try await kms.describe(reference).keyID == key.keyID)
        }

        try await kms.setEnabled(key.keyID, false)
        #expect(try await kms.describe(key.keyID).keyState == .disabled)
        #expect(await code { _ = try await kms.encrypt(key.keyID, [1]) } == "DisabledException")
        #expect(await code { _ = try await kms.decrypt(blob, context: ["order": "17"]) } == "DisabledException")
        try await kms.setEnabled(key.keyID, true)
        #expect(try await kms.decrypt(blob, context: ["order": "17"]).plaintext.count == 9)

        var schedule = KMSScheduleKeyDeletionRequest()
        schedule.keyID = key.keyID
        schedule.pendingWindowInDays = 7
        let scheduled = try await kms.call(KMSMethod.scheduleKeyDeletion, schedule)
        #expect(scheduled.keyState == .pendingDeletion)
        #expect(scheduled.pendingWindowInDays == 7)
        let days = (scheduled.deletionDate.date.timeIntervalSinceNow / 86_400).rounded()
        #expect(days == 7)
        #expect(await code { _ = try await kms.encrypt(key.keyID, [1]) } == "KMSInvalidStateException")
        #expect(await code { _ = try await kms.decrypt(blob, context: ["order": "17"]) } == "KMSInvalidStateException")
        #expect(await code { try await kms.setEnabled(key.keyID, true) } == "KMSInvalidStateException")

        var cancel = KMSCancelKeyDeletionRequest()
        cancel.keyID = key.keyID
        #expect(try await kms.call(KMSMethod.cancelKeyDeletion, cancel).keyID == key.arn)
        let cancelled = try await kms.describe(key.keyID)
        #expect(cancelled.keyState == .disabled)
        #expect(!cancelled.hasDeletionDate)

        // Schedule again, then move the deletion date into the past behind the service's back:
        // the reaper must delete the key, its material and its alias.
        schedule.pendingWindowInDays = 30
        _ = try await kms.call(KMSMethod.scheduleKeyDeletion, schedule)
        try await stack.database.withClient { client in
            try await client.query(
                """
                UPDATE kms_keys SET deletion_date = now() - interval '1 minute'
                    WHERE key_id = \(UUID(uuidString: key.keyID)!)
                """
            )
        }
        var gone = false
        for _ in 0..<100 where !gone {
            gone = await code { _ = try await kms.describe(key.keyID) } == "NotFoundException"
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone)
        #expect(
            await code { _ = try await kms.decrypt(blob, context: ["order": "17"]) } == "InvalidCiphertextException")
        #expect(await code { _ = try await kms.describe("alias/payments") } == "NotFoundException")
        let leftovers = try await stack.database.withClient { client in
            var count = 0
            for try await n in try await client.query("SELECT count(*) FROM kms_key_materials").decode(Int.self) {
                count = n
            }
            return count
        }
        #expect(leftovers == 0)
        await stack.stop()
    }

    @Test func updateDescriptionAndListKeysInPages() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        var created: Set<String> = []
        for index in 0..<5 { created.insert(try await kms.createKey("key \(index)").keyID) }

        var update = KMSUpdateKeyDescriptionRequest()
        update.keyID = created.first!
        update.description_p = "renamed"
        _ = try await kms.call(KMSMethod.updateKeyDescription, update)
        #expect(try await kms.describe(created.first!).description_p == "renamed")

        var seen: [String] = []
        var request = KMSListKeysRequest()
        request.limit = 2
        var pages = 0
        while true {
            let page = try await kms.call(KMSMethod.listKeys, request)
            pages += 1
            seen += page.keys.map(\.keyID)
            #expect(page.keys.allSatisfy { $0.keyArn.hasSuffix($0.keyID) })
            guard page.truncated else { break }
            request.marker = page.nextMarker
        }
        #expect(pages == 3)
        #expect(Set(seen) == created)
        #expect(seen.count == 5)
        await stack.stop()
    }

    @Test func aliasesCreateUpdateDeleteAndList() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let a = try await kms.createKey()
        let b = try await kms.createKey()
        for name in ["alias/one", "alias/two", "alias/three"] { try await kms.createAlias(name, a.keyID) }
        #expect(await code { try await kms.createAlias("alias/one", b.keyID) } == "AlreadyExistsException")

        var update = KMSUpdateAliasRequest()
        update.aliasName = "alias/two"
        update.targetKeyID = b.keyID
        _ = try await kms.call(KMSMethod.updateAlias, update)
        #expect(try await kms.describe("alias/two").keyID == b.keyID)

        var list = KMSListAliasesRequest()
        list.keyID = a.keyID
        #expect(
            Set(try await kms.call(KMSMethod.listAliases, list).aliases.map(\.aliasName)) == [
                "alias/one", "alias/three",
            ])

        // Pages of two, AWS's predefined aliases (no target until first use) among the account's.
        var all = KMSListAliasesRequest()
        all.limit = 2
        var listed: [KMSAliasListEntry] = []
        while true {
            let page = try await kms.call(KMSMethod.listAliases, all)
            listed += page.aliases
            guard page.truncated else { break }
            #expect(page.aliases.count == 2)
            all.marker = page.nextMarker
        }
        #expect(
            listed.filter { !$0.targetKeyID.isEmpty }.map(\.aliasName) == ["alias/one", "alias/three", "alias/two"])
        #expect(listed.filter { $0.targetKeyID.isEmpty }.map(\.aliasName) == AWSManagedServices.predefinedAliases)
        #expect(listed.allSatisfy { $0.aliasArn == "arn:aws:kms:us-east-1:111122223333:\($0.aliasName)" })

        var delete = KMSDeleteAliasRequest()
        delete.aliasName = "alias/one"
        _ = try await kms.call(KMSMethod.deleteAlias, delete)
        #expect(await code { _ = try await kms.describe("alias/one") } == "NotFoundException")
        #expect(await code { _ = try await kms.call(KMSMethod.deleteAlias, delete) } == "NotFoundException")
        await stack.stop()
    }
}

@Suite struct StartupTests {
    @Test func twoKMSDStartingAtOnceOnAFreshDatabaseBothServe() async throws {
        let database = try await TestDatabase.create()
        let worker = try await WorkerProcess()
        try await worker.start()
        let first = KMSDProcess(databaseURL: database.url, workerSocket: worker.socketPath, directory: worker.directory)
        let second = KMSDProcess(
            databaseURL: database.url, workerSocket: worker.socketPath, directory: worker.directory)
        async let a: Void = first.start()
        async let b: Void = second.start()
        _ = try await (a, b)
        let admin = try await KMSDProcess.bootstrap(databaseURL: database.url, workerSocket: worker.socketPath)
        let one = try first.client(credentials: admin)
        let two = try second.client(credentials: admin)
        let key = try await one.createKey()
        #expect(try await two.describe(key.keyID).keyID == key.keyID)
        let migrations = try await database.withClient { client in
            var count = 0
            for try await n in try await client.query("SELECT count(*) FROM kms_schema_migrations").decode(Int.self) {
                count = n
            }
            return count
        }
        #expect(migrations == Migrations.all.count)
        await one.close()
        await two.close()
        await first.stop()
        await second.stop()
        await worker.stop()
        await database.drop()
    }
}
