import Foundation
import KMSAuditChain
import KMSClient
import KMSDomain
import KMSProto
import KMSStore
import KMSTestSupport
import PostgresNIO
import Synchronization
import Testing

/// The audit log: one record per request with the right fields, refusals included; nothing
/// acknowledged that is not durable; a chain that shows any edit, deletion or reordering.
@Suite struct AuditTests {
    final class Load: Sendable {
        let acknowledged = Mutex<[Int]>([])
        let counter = Atomic<Int>(0)
        let stopped = Atomic<Bool>(false)
    }

    static func records(_ kms: KMSClient, _ configure: (inout AdminListAuditRecordsRequest) -> Void = { _ in })
        async throws -> [AdminAuditRecord]
    {
        var request = AdminListAuditRecordsRequest()
        request.limit = 1000
        configure(&request)
        return try await kms.call(AdminMethod.listAuditRecords, request).records
    }

    static func verify(_ kms: KMSClient) async throws -> AdminVerifyAuditLogResponse {
        try await kms.call(AdminMethod.verifyAuditLog, AdminVerifyAuditLogRequest())
    }

    /// Verifies `maxRecords` at a time, following the markers as `kms audit verify` does.
    static func verify(_ kms: KMSClient, maxRecords: Int64) async throws -> (
        result: AdminVerifyAuditLogResponse, calls: Int
    ) {
        var request = AdminVerifyAuditLogRequest()
        request.maxRecords = maxRecords
        var calls = 0
        while true {
            let result = try await kms.call(AdminMethod.verifyAuditLog, request)
            calls += 1
            guard result.intact, !result.nextMarker.isEmpty else { return (result, calls) }
            request.marker = result.nextMarker
        }
    }

    static func sql(_ stack: KMSStack, _ statements: [String]) async throws {
        try await stack.database.withClient { client in
            for statement in statements {
                try await client.query(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "test"))
            }
        }
    }

    @Test func eachRequestLeavesOneRecordWithItsFields() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await kms.createKey("audited")
        try await kms.createAlias("alias/audited", key.keyID)
        let blob = try await kms.encrypt("alias/audited", [1, 2, 3], context: ["purpose": "audit-test"])
        let (readerARN, reader) = try await stack.principal("reader", type: "role")
        #expect(
            await code { _ = try await reader.decrypt(blob, context: ["purpose": "audit-test"]) }
                == "AccessDeniedException")
        var grant = KMSCreateGrantRequest()
        grant.keyID = key.keyID
        grant.granteePrincipal = readerARN
        grant.operations = [.decrypt]
        let created = try await kms.call(KMSMethod.createGrant, grant)
        let grantID = created.grantID
        var decrypt = KMSDecryptRequest()
        decrypt.ciphertextBlob = blob
        decrypt.encryptionContext = ["purpose": "audit-test"]
        // A grant token, not a grant id: a token this service did not issue is InvalidGrantTokenException.
        decrypt.grantTokens = [created.grantToken]
        _ = try? await reader.call(KMSMethod.decrypt, decrypt)

        let records = try await Self.records(kms) { $0.keyArn = key.arn }
        let encrypts = records.filter { $0.operation == "Encrypt" }
        #expect(encrypts.count == 1)
        let encrypt = try #require(encrypts.first)
        #expect(encrypt.principalArn == "arn:aws:iam::111122223333:user/admin")
        #expect(encrypt.accessKeyID == stack.adminCredentials.accessKeyID)
        #expect(encrypt.alias == "alias/audited")
        #expect(encrypt.encryptionContext == ["purpose": "audit-test"])
        #expect(encrypt.transport == "binary")
        #expect(encrypt.sourceIp == "127.0.0.1")
        #expect(encrypt.errorCode.isEmpty)
        let decrypts = records.filter { $0.operation == "Decrypt" }
        #expect(decrypts.map(\.errorCode).first == "AccessDeniedException")
        #expect(decrypts.allSatisfy { $0.principalArn == readerARN })
        #expect(records.filter { $0.operation == "CreateGrant" }.count == 1)
        #expect(decrypts.contains { $0.grantID == grantID && $0.errorCode.isEmpty } || decrypts.count == 2)
        // Never a plaintext or a data key: the records hold names, ids, contexts and codes only.
        // Request ids are UUIDs (RFC 9562 version 8, made without a system call), one per request.
        let all = try await Self.records(kms)
        #expect(Set(all.map(\.requestID)).count == all.count)
        #expect(all.allSatisfy { UUID(uuidString: $0.requestID) != nil && $0.requestID == $0.requestID.lowercased() })
        #expect(
            all.filter { $0.transport == "binary" }.allSatisfy {
                Array($0.requestID)[14] == "8" && "89ab".contains(Array($0.requestID)[19])
            })
        let denied = try await Self.records(kms) { $0.errorCode = "AccessDeniedException" }
        #expect(denied.count == 1)
        #expect(try await Self.verify(kms).intact)
        await stack.stop()
    }

    static let storedSegments =
        "SELECT chain_id, first_seq, records FROM kms_audit_segments ORDER BY chain_id, first_seq"

    /// Every stored record, read behind the service's back.
    static func storedRecords(_ stack: KMSStack) async throws -> [AuditRecord] {
        try await stack.database.withClient { client in
            try await Self.decodeAll(
                try await client.query(PostgresQuery(unsafeSQL: Self.storedSegments), logger: Logger(label: "test")))
        }
    }

    static func decodeAll(_ rows: PostgresRowSequence) async throws -> [AuditRecord] {
        var records: [AuditRecord] = []
        for try await (chain, first, stored) in rows.decode((String, Int64, ByteBuffer).self) {
            records += try AuditSegment.decode(stored, chain: chain, firstSequence: first)
        }
        return records
    }

    /// Rewrites the stored log through `change`, a segment per record, behind the service's
    /// back, as someone with the database's password could.
    static func tamper(_ stack: KMSStack, _ change: @Sendable ([AuditRecord]) -> [AuditRecord]) async throws {
        let logger = Logger(label: "test")
        try await stack.database.withClient { client in
            try await client.withTransaction(logger: logger) { connection in
                let rows = try await connection.query(
                    PostgresQuery(unsafeSQL: Self.storedSegments + " FOR UPDATE"), logger: logger)
                let records = change(try await Self.decodeAll(rows))
                try await connection.query(
                    "ALTER TABLE kms_audit_segments DISABLE TRIGGER kms_audit_segments_append_only", logger: logger)
                try await connection.query("DELETE FROM kms_audit_segments", logger: logger)
                for record in records {
                    let entry = record.entry
                    try await connection.query(
                        """
                        INSERT INTO kms_audit_segments (chain_id, first_seq, last_seq, min_time, max_time, key_arns,
                            principal_arns,
                            operations, error_codes, records)
                        VALUES (\(record.chain), \(record.sequence), \(record.sequence), \(entry.time), \(entry.time),
                            \(entry.keyARNs),
                            \([entry.principalARN]), \([entry.operation]), \(entry.errorCode.map { [$0] } ?? []),
                                \(AuditSegment.encode([record])))
                        """,
                        logger: logger
                    )
                }
                try await connection.query(
                    "ALTER TABLE kms_audit_segments ENABLE TRIGGER kms_audit_segments_append_only", logger: logger)
            }
        }
    }

    /// A cryptographic request's record is queued as kms-cryptod starts on it, so that its commit
    /// and the worker's work overlap. A success still has exactly one record; a request kms-cryptod
    /// fails (a ciphertext that does not open) ends recorded as failed: its queued record amended,
    /// or, when that was already being written saying it succeeded, a second record of the same
    /// request id with the error.
    @Test func aRequestFailedByTheWorkerAfterItsRecordWasQueuedEndsRecordedAsFailed() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await kms.createKey("ahead")
        let blob = try await kms.encrypt(key.keyID, [1, 2, 3])
        _ = try await kms.decrypt(blob)
        var tampered = blob
        tampered[tampered.endIndex - 1] ^= 1
        for _ in 0..<5 {
            #expect(await code { _ = try await kms.decrypt(tampered) } == "InvalidCiphertextException")
        }
        _ = try await kms.decrypt(blob)
        let decrypts = try await Self.records(kms) {
            $0.keyArn = key.arn
            $0.operation = "Decrypt"
        }
        let byRequest = Dictionary(grouping: decrypts, by: \.requestID)
        #expect(byRequest.count == 7, "\(decrypts.map(\.errorCode))")
        let outcomes = byRequest.values.map { $0.last!.errorCode }
        #expect(outcomes.filter(\.isEmpty).count == 2)
        #expect(outcomes.filter { $0 == "InvalidCiphertextException" }.count == 5)
        for records in byRequest.values where records.count > 1 {
            #expect(records.count == 2 && records[0].errorCode.isEmpty, "\(records.map(\.errorCode))")
        }
        // A failure's record is found by its error code, whichever way it was recorded.
        let failed = try await Self.records(kms) { $0.errorCode = "InvalidCiphertextException" }
        #expect(failed.count == 5)
        #expect(try await Self.verify(kms).intact)
        await stack.stop()
    }

    @Test func verifyNamesTheFirstEditedDeletedOrReorderedRecord() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await kms.createKey()
        for index in 0..<6 { _ = try await kms.encrypt(key.keyID, [UInt8(index)]) }
        #expect(try await Self.verify(kms).intact)
        let original = try await Self.storedRecords(stack)
        #expect(original.map(\.sequence) == Array(1...Int64(original.count)))
        let restore: @Sendable ([AuditRecord]) -> [AuditRecord] = { records in
            let kept = records.filter { record in !original.contains { $0.sequence == record.sequence } }
            return (original + kept).sorted { $0.sequence < $1.sequence }
        }
        // An edited record.
        try await Self.tamper(stack) { records in
            var records = records
            records[2].entry.operation = "Decrypt"
            return records
        }
        var result = try await Self.verify(kms)
        #expect(!result.intact && result.firstBrokenSequence == 3, "\(result.reason)")
        #expect(result.reason.contains("edited"))
        // The same, found by a walk made of many calls.
        let paged = try await Self.verify(kms, maxRecords: 1)
        #expect(
            !paged.result.intact && paged.result.firstBrokenSequence == 3 && paged.calls >= 3, "\(paged.result.reason)")
        try await Self.tamper(stack, restore)
        #expect(try await Self.verify(kms).intact)
        // Two records swapped.
        try await Self.tamper(stack) { records in
            var records = records
            records.swapAt(4, 5)
            (records[4].sequence, records[5].sequence) = (5, 6)
            return records
        }
        result = try await Self.verify(kms)
        #expect(!result.intact && result.firstBrokenSequence == 5, "\(result.reason)")
        try await Self.tamper(stack, restore)
        #expect(try await Self.verify(kms).intact)
        // A deleted record.
        try await Self.tamper(stack) { $0.filter { $0.sequence != 4 } }
        result = try await Self.verify(kms)
        #expect(!result.intact && result.firstBrokenSequence == 5, "\(result.reason)")
        try await Self.tamper(stack, restore)
        #expect(try await Self.verify(kms).intact)
        // The newest record deleted: the chain's head row still names it.
        let newest = try await Self.verify(kms).recordsChecked
        let whole = try await Self.storedRecords(stack)
        try await Self.tamper(stack) { _ in Array(whole.dropLast()) }
        result = try await Self.verify(kms)
        #expect(!result.intact && result.reason.contains("deleted from its end"), "\(result.reason)")
        #expect(result.firstBrokenSequence > newest)
        try await Self.tamper(stack) { records in (whole + records.filter { $0.sequence > whole.last!.sequence }) }
        #expect(try await Self.verify(kms).intact)
        // Bytes that no longer parse.
        try await Self.sql(
            stack,
            [
                "ALTER TABLE kms_audit_segments DISABLE TRIGGER kms_audit_segments_append_only",
                "UPDATE kms_audit_segments SET records = '\\x0100' WHERE first_seq = 4",
                "ALTER TABLE kms_audit_segments ENABLE TRIGGER kms_audit_segments_append_only",
            ])
        result = try await Self.verify(kms)
        #expect(
            !result.intact && result.firstBrokenSequence == 4 && result.reason.contains("cannot be read"),
            "\(result.reason)")
        // And the service itself cannot change history.
        await #expect(throws: (any Error).self) {
            try await Self.sql(stack, ["DELETE FROM kms_audit_segments WHERE first_seq = 5"])
        }
        await #expect(throws: (any Error).self) {
            try await Self.sql(stack, ["UPDATE kms_audit_segments SET records = '\\x01'"])
        }
        await stack.stop()
    }

    /// Each kmsd writes its own chain (`--audit-chain`), so replicas never wait on one another;
    /// two given the same chain still extend it in order. Listing pages across chains.
    @Test func kmsdReplicasWriteTheirOwnChainsAndAllVerify() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--audit-chain", "replica-a"])
        let second = try await stack.secondKMSD(arguments: ["--audit-chain", "replica-b"])
        let third = try await stack.secondKMSD(arguments: ["--audit-chain", "replica-b"])
        let clients = [
            stack.client, try second.client(credentials: stack.adminCredentials),
            try third.client(credentials: stack.adminCredentials),
        ]
        let key = try await stack.client.createKey()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients {
                for _ in 0..<4 {
                    group.addTask { for _ in 0..<50 { _ = try await client.encrypt(key.keyID, [1]) } }
                }
            }
            try await group.waitForAll()
        }
        var records: [AdminAuditRecord] = []
        var marker = ""
        var pages = 0
        repeat {
            var request = AdminListAuditRecordsRequest()
            request.operation = "Encrypt"
            request.limit = 250
            request.marker = marker
            let page = try await stack.client.call(AdminMethod.listAuditRecords, request)
            records += page.records
            marker = page.nextMarker
            pages += 1
        } while !marker.isEmpty
        #expect(records.count == 600 && pages >= 3)
        #expect(Set(records.map { "\($0.chainID)/\($0.sequence)" }).count == 600)
        #expect(records.filter { $0.chainID == "replica-a" }.count == 200)
        #expect(records.filter { $0.chainID == "replica-b" }.count == 400)
        let verified = try await Self.verify(stack.client)
        #expect(verified.intact, "\(verified.reason)")
        #expect(verified.chainsChecked >= 2)
        // In calls of 50 records: the same totals, and every marker resumes where the last call stopped.
        let paged = try await Self.verify(stack.client, maxRecords: 50)
        #expect(paged.result.intact && paged.calls >= 3, "\(paged.result.reason)")
        #expect(
            paged.result.chainsChecked == verified.chainsChecked
                && paged.result.recordsChecked >= verified.recordsChecked)
        #expect(
            await code {
                _ = try await stack.client.call(
                    AdminMethod.verifyAuditLog, .with { $0.marker = "v1/replica-a/1/2/zz/0/0" })
            } == "InvalidMarkerException")
        // A marker that no listing returned.
        #expect(
            await code { _ = try await stack.client.call(AdminMethod.listAuditRecords, .with { $0.marker = "12" }) }
                == "InvalidMarkerException")
        for client in clients.dropFirst() { await client.close() }
        await second.stop()
        await third.stop()
        await stack.stop()
    }

    /// A stalled audit write (the chains' head rows locked behind kmsd's back) fails requests
    /// after --audit-timeout-seconds, not the callers' own timeouts; their records are still
    /// written once the stall ends, and the service carries on.
    @Test func aStalledAuditLogFailsRequestsInBoundedTime() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--audit-timeout-seconds", "1"])
        let key = try await Self.untilAudited { try await stack.client.createKey("stall") }
        let once = try stack.kmsd.client(credentials: stack.adminCredentials) { $0.maxAttempts = 1 }
        _ = try await Self.untilAudited { try await once.encrypt(key.keyID, [1]) }
        // Only the call is timed, not the test's own connection and lock (slow on a loaded machine).
        let (outcome, waited): (String?, Duration) = try await stack.database.withClient { client in
            try await client.withTransaction(logger: Logger(label: "test")) { connection in
                try await connection.query("SELECT * FROM kms_audit_chains FOR UPDATE", logger: Logger(label: "test"))
                let started = ContinuousClock.now
                let outcome = await code { _ = try await once.encrypt(key.keyID, [2]) }
                return (outcome, ContinuousClock.now - started)
            }
        }
        #expect(outcome == "KMSInternalException")
        #expect(waited < .seconds(8), "waited \(waited)")
        // The stall is over: after the writer's backoff the log takes records again, without a
        // restart (until then requests are refused at once, before they do anything), and the
        // withheld one was recorded.
        var answered = false
        for _ in 0..<100 where !answered {
            answered = (try? await once.encrypt(key.keyID, [3])) != nil
            if !answered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answered)
        let encrypts = try await Self.untilAudited {
            try await Self.records(stack.client) {
                $0.keyArn = key.arn
                $0.operation = "Encrypt"
            }
        }
        // [1] and [3] answered; [2] (and any try of [3] that ran before the log could take its
        // record) recorded as what its caller was told.
        // A record whose commit was under way when its caller was answered may say success.
        #expect(
            encrypts.count >= 3 && encrypts.first?.errorCode == "" && encrypts.last?.errorCode == "",
            "\(encrypts.map(\.errorCode))")
        #expect(try await Self.untilAudited { try await Self.verify(stack.client) }.intact)
        await once.close()
        await stack.stop()
    }

    /// With a 1 s audit timeout, calls outside the stall a test makes can miss it too when the
    /// machine is loaded (the log is then unavailable for a moment, KMSInternalException): they
    /// are tried again, up to about a minute, so that only the call under test is judged.
    static func untilAudited<T>(_ body: () async throws -> T) async throws -> T {
        for _ in 0..<60 {
            do {
                return try await body()
            } catch let error as KMSClientError where error.code == "KMSInternalException" {
                try await Task.sleep(for: .seconds(1))
            }
        }
        return try await body()
    }

    /// A record whose commit fails after its statement ran is not acknowledged. PostgreSQL answers
    /// a statement (CommandComplete) before it commits the statement's own transaction, and a
    /// commit can still fail then: PostgreSQL stopped while it flushes the commit (how a record
    /// was lost in the crash test), or, here, where it can be made to happen every time, a
    /// deferred constraint trigger that refuses. The request fails; its record stays queued and
    /// is written once commits succeed again, and the chain has no hole.
    @Test func aRecordWhoseCommitFailsIsNotAcknowledged() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--audit-timeout-seconds", "2"])
        let key = try await Self.untilAudited { try await stack.client.createKey("commit") }
        let once = try stack.kmsd.client(credentials: stack.adminCredentials) { $0.maxAttempts = 1 }
        _ = try await Self.untilAudited { try await once.encrypt(key.keyID, [1]) }
        try await Self.sql(
            stack,
            [
                """
                CREATE FUNCTION kms_test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'refused at commit'; END $$
                """,
                """
                CREATE CONSTRAINT TRIGGER kms_test_refuse_commit AFTER INSERT ON kms_audit_segments
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION kms_test_refuse_commit()
                """,
            ])
        let outcome = await code { _ = try await once.encrypt(key.keyID, [2]) }
        #expect(outcome == "KMSInternalException", "a call whose record did not commit was answered")
        try await Self.sql(stack, ["DROP TRIGGER kms_test_refuse_commit ON kms_audit_segments"])
        _ = try await Self.untilAudited { try await once.encrypt(key.keyID, [3]) }
        let encrypts = try await Self.untilAudited {
            try await Self.records(stack.client) {
                $0.keyArn = key.arn
                $0.operation = "Encrypt"
            }
        }
        // [2] is recorded as what its caller was told; a refused try of [3] may be there too.
        #expect(
            encrypts.count >= 3 && encrypts.first?.errorCode == "" && encrypts.last?.errorCode == ""
                && encrypts[1].errorCode == "KMSInternalException",
            "\(encrypts.map(\.errorCode))")
        let verified = try await Self.verify(stack.client)
        #expect(verified.intact, "\(verified.reason) at \(verified.firstBrokenSequence)")
        await once.close()
        await stack.stop()
    }

    @Test func everyAcknowledgedCallIsInTheLogAfterACrash() async throws {
        let stack = try await KMSStack.start()
        let key = try await stack.client.createKey()
        let state = Load()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        while !state.stopped.load(ordering: .relaxed) {
                            let n = state.counter.wrappingAdd(1, ordering: .relaxed).newValue
                            // Failures (those in flight at the crash) are simply not acknowledged.
                            if (try? await stack.client.encrypt(key.keyID, [1], context: ["n": String(n)])) != nil {
                                state.acknowledged.withLock { $0.append(n) }
                            }
                        }
                    }
                }
            }
        }
        // Crash once a good number of calls went through (a loaded machine is slower).
        for _ in 0..<200 where state.acknowledged.withLock({ $0.count }) < 200 {
            try await Task.sleep(for: .milliseconds(50))
        }
        await stack.kmsd.crash()
        state.stopped.store(true, ordering: .relaxed)
        _ = await load.result
        let acked = state.acknowledged.withLock { $0 }
        #expect(acked.count > 50)
        // A new kmsd on the same database reads the log.
        let other = try await stack.secondKMSD()
        let reader = try other.client(credentials: stack.adminCredentials)
        var logged = Set<String>()
        var marker = ""
        repeat {
            var request = AdminListAuditRecordsRequest()
            request.operation = "Encrypt"
            request.limit = 1000
            request.marker = marker
            let page = try await reader.call(AdminMethod.listAuditRecords, request)
            for record in page.records where record.errorCode.isEmpty {
                logged.insert(record.encryptionContext["n"] ?? "")
            }
            marker = page.nextMarker
        } while !marker.isEmpty
        let missing = acked.filter { !logged.contains(String($0)) }
        #expect(missing.isEmpty, "acknowledged but not logged: \(missing.prefix(10))")
        #expect(try await reader.call(AdminMethod.verifyAuditLog, AdminVerifyAuditLogRequest()).intact)
        await reader.close()
        await other.stop()
        await stack.stop()
    }
}

/// Usage counters add up to the requests made, and cost what AWS would charge.
@Suite struct UsageTests {
    @Test func countersAddUpAndArePriced() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--usage-flush-seconds", "1"])
        let kms = stack.client
        let key = try await kms.createKey()
        for _ in 0..<30 { _ = try await kms.encrypt(key.keyID, [1]) }
        var generate = KMSGenerateDataKeyRequest()
        generate.keyID = key.keyID
        generate.numberOfBytes = 32
        for _ in 0..<12 { _ = try await kms.call(KMSMethod.generateDataKey, generate) }
        _ = try? await kms.encrypt(key.keyID, Array(repeating: 1, count: 4097))
        // A second kmsd's requests arrive with its flush.
        let other = try await stack.secondKMSD(arguments: ["--usage-flush-seconds", "1"])
        let kmsB = try other.client(credentials: stack.adminCredentials)
        for _ in 0..<5 { _ = try await kmsB.encrypt(key.keyID, [2]) }
        try await Task.sleep(for: .seconds(2))

        var request = AdminGetUsageRequest()
        request.keyArn = key.arn
        let usage = try await kms.call(AdminMethod.getUsage, request)
        let encrypt = try #require(usage.requests.first { $0.operation == "Encrypt" })
        // 30 + 5; the oversize one was refused before it named a key, so it counts against no key.
        #expect(encrypt.requests == 35)
        #expect(encrypt.failed == 0)
        let dataKeys = try #require(usage.requests.first { $0.operation == "GenerateDataKey" })
        #expect(dataKeys.requests == 12)
        // With the CreateKey that made the key: its record names the key, so it counts against it.
        #expect(usage.requests.first { $0.operation == "CreateKey" }?.requests == 1)
        #expect(abs(usage.requestCost - Double(35 + 12 + 1) * 0.03 / 10_000) < 1e-9)
        var all = AdminGetUsageRequest()
        all.keyArn = ""
        let everything = try await kms.call(AdminMethod.getUsage, all)
        #expect(everything.requests.contains { $0.keyArn.isEmpty && $0.operation == "Encrypt" && $0.failed == 1 })
        #expect(usage.keys.count == 1 && usage.keys[0].keyManager == "CUSTOMER")
        #expect(abs(usage.totalCost - usage.requestCost - usage.keyCost) < 1e-12)
        #expect(usage.busiestKeyArn == key.arn)
        // The 12 data keys, same principal and context: a 5-minute cache would have made 1 call
        // (or 2, if the run straddled a window's edge).
        request.cacheSeconds = 300
        let estimate = try await kms.call(AdminMethod.getUsage, request)
        let cached = try #require(estimate.cacheEstimates.first { $0.operation == "GenerateDataKey" })
        #expect(cached.requests == 12)
        #expect(cached.requestsWithCache <= 2)
        #expect(estimate.cacheSavings > 0)
        await kmsB.close()
        await other.stop()
        await stack.stop()
    }

    /// Pending deletion is not billed, a deleted key still is for its time before, and the
    /// first two rotations add a key-month each.
    @Test func keysAreBilledUntilTheirDeletionIsScheduledAndRotationsAddToThem() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--reaper-interval-seconds", "1"])
        let kms = stack.client
        let rotated = try await kms.createKey("rotated")
        for _ in 0..<3 { _ = try await kms.call(KMSMethod.rotateKeyOnDemand, .with { $0.keyID = rotated.keyID }) }
        let doomed = try await kms.createKey("doomed")
        try await Task.sleep(for: .seconds(1))
        _ = try await kms.call(
            KMSMethod.scheduleKeyDeletion,
            .with {
                $0.keyID = doomed.keyID
                $0.pendingWindowInDays = 7
            })
        let usage = try await kms.call(AdminMethod.getUsage, AdminGetUsageRequest())
        let pending = try #require(usage.keys.first { $0.keyArn == doomed.arn })
        let hoursBefore = pending.hours
        #expect(hoursBefore > 0 && !pending.deleted)
        // Three rotations, two charged. Over a period ending an hour from now the key's own hours
        // are about 1, and its rotated material's about 2 (the seconds between creation and the
        // rotations aside), never 3, however slowly the machine ran the rotations.
        var ahead = AdminGetUsageRequest()
        ahead.endTime = .init(date: Date().addingTimeInterval(3600))
        let rotatedCharge = try #require(
            try await kms.call(AdminMethod.getUsage, ahead).keys.first { $0.keyArn == rotated.arn })
        #expect(rotatedCharge.hours > 1 && rotatedCharge.hours < 1.1)
        #expect(
            rotatedCharge.rotatedMaterialHours > 1.9
                && rotatedCharge.rotatedMaterialHours <= 2 * rotatedCharge.hours + 1e-9)

        // The window passes (behind the service's back; a zero window keeps the scheduling time) and
        // the reaper deletes the key.
        try await AuditTests.sql(
            stack,
            [
                """
                UPDATE kms_keys SET deletion_date = now() - interval '1 second', pending_window_days = 0
                    WHERE key_id = '\(doomed.keyID)'
                """
            ])
        var deleted: AdminKeyCharge?
        for _ in 0..<40 where deleted == nil {
            try await Task.sleep(for: .milliseconds(250))
            deleted = try await kms.call(AdminMethod.getUsage, AdminGetUsageRequest()).keys.first {
                $0.keyArn == doomed.arn && $0.deleted
            }
        }
        let charge = try #require(deleted)
        #expect(charge.cost > 0)
        #expect(abs(charge.hours - hoursBefore) < 0.01)
        await stack.stop()
    }
}

/// The Prometheus endpoint shows requests by operation and result, latencies, worker round
/// trips, cache hits and audit batches.
@Suite struct MetricsTests {
    static func freePort() async throws -> Int {
        let run = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
            ])
        return Int(run.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    static func scrape(_ port: Int) async throws -> String {
        try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                "import urllib.request; "
                    + "print(urllib.request.urlopen('http://127.0.0.1:\(port)/metrics').read().decode())",
            ]
        ).stdoutText
    }

    @Test func prometheusSeesRequestsLatencyCacheAndAudit() async throws {
        let port = try await Self.freePort()
        let stack = try await KMSStack.start(kmsdArguments: ["--metrics-listen", "127.0.0.1:\(port)"])
        let key = try await stack.client.createKey()
        for _ in 0..<5 { _ = try await stack.client.encrypt(key.keyID, [1]) }
        _ = try? await stack.client.describe("alias/none")
        let text = try await Self.scrape(port)
        #expect(text.contains(#"kms_requests_total{operation="Encrypt",result="ok"} 5"#), "\(text.prefix(2000))")
        #expect(text.contains(#"kms_requests_total{operation="DescribeKey",result="NotFoundException"} 1"#))
        #expect(text.contains("kms_request_duration_seconds_bucket"))
        #expect(text.contains(#"kms_worker_call_duration_seconds_count{method="Encrypt"} 5"#))
        #expect(text.contains(#"kms_cache_lookups_total{result="hit"}"#))
        #expect(text.contains("kms_audit_commit_duration_seconds_count"))
        // Buckets fine enough for sub-millisecond requests and commits, and for batch sizes.
        #expect(
            text.contains(#"kms_request_duration_seconds_bucket{operation="Encrypt",le="0.0005"}"#),
            "\(text.prefix(4000))")
        #expect(text.contains(#"kms_audit_commit_duration_seconds_bucket{le="0.0001"}"#))
        #expect(
            text.contains(#"kms_audit_batch_records_bucket{le="1.0"}"#)
                || text.contains(#"kms_audit_batch_records_bucket{le="1"}"#))
        // The test's kmsd has 6 database connections; key loads went through them.
        #expect(text.contains("kms_database_pool_connections 6"))
        #expect(text.contains("kms_database_call_duration_seconds_count"))
        #expect(text.contains("kms_database_calls_in_flight 0"))
        await stack.stop()
    }
}
