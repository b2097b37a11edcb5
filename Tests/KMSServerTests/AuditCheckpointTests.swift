import Foundation
import KMSAuditChain
import KMSClient
import KMSDomain
import KMSProto
import KMSStore
import KMSTestSupport
import PostgresNIO
import Testing

/// Checkpoints: kms-cryptod's MACs over each chain's head. Whatever someone holding the database
/// does to the log (as its owner: triggers disabled first where they stand in the way) is named
/// by `VerifyAuditLog`; an untouched log verifies, with every record checkpointed once kmsd stops.
@Suite struct AuditCheckpointTests {
    static let logger = Logger(label: "test")
    static let tables = ["kms_audit_segments", "kms_audit_checkpoints", "kms_audit_chains"]

    /// Verifies through `kms`, following the markers: the last answer, and the chains of all.
    static func verify(_ kms: KMSClient, anchors: [AdminAuditCheckpointAnchor] = [], maxRecords: Int64 = 0) async throws
        -> (result: AdminVerifyAuditLogResponse, chains: [AdminAuditChainReport])
    {
        var request = AdminVerifyAuditLogRequest()
        request.expectedCheckpoints = anchors
        request.maxRecords = maxRecords
        var chains: [AdminAuditChainReport] = []
        while true {
            let result = try await kms.call(AdminMethod.verifyAuditLog, request)
            chains += result.chains
            guard result.intact, !result.nextMarker.isEmpty else { return (result, chains) }
            request.marker = result.nextMarker
        }
    }

    /// Runs `statements` in one transaction as the database's owner, the audit tables' triggers off.
    /// kmsd keeps writing meanwhile, and its statement locks the audit tables in another order
    /// than the ALTERs do: PostgreSQL may pick this transaction as a deadlock's victim
    /// (40P01), and then it is run again, as any deadlock victim should be.
    static func asOwner(_ stack: KMSStack, _ statements: [String]) async throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await stack.database.withClient { client in
                    try await client.withTransaction(logger: Self.logger) { connection in
                        for table in Self.tables {
                            try await connection.query(
                                PostgresQuery(unsafeSQL: "ALTER TABLE \(table) DISABLE TRIGGER USER"),
                                logger: Self.logger)
                        }
                        for statement in statements {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Self.logger)
                        }
                        for table in Self.tables {
                            try await connection.query(
                                PostgresQuery(unsafeSQL: "ALTER TABLE \(table) ENABLE TRIGGER USER"),
                                logger: Self.logger)
                        }
                    }
                }
                return
            } catch  where attempt < 5 && String(reflecting: error).contains("40P01") {
                continue
            }
        }
    }

    /// Copies the rows of `chains` aside, for `restore`.
    static func backUp(_ stack: KMSStack, chains: [String]) async throws {
        let names = chains.map { "'\($0)'" }.joined(separator: ",")
        try await AuditTests.sql(
            stack, Self.tables.map { "CREATE TABLE backup_\($0) AS SELECT * FROM \($0) WHERE chain_id IN (\(names))" })
    }

    /// Puts the rows copied aside back in place of whatever is there now.
    static func restore(_ stack: KMSStack, chains: [String]) async throws {
        let names = chains.map { "'\($0)'" }.joined(separator: ",")
        try await Self.asOwner(
            stack,
            Self.tables.flatMap { table in
                [
                    "DELETE FROM \(table) WHERE chain_id IN (\(names))",
                    "INSERT INTO \(table) \(table == "kms_audit_segments" ? "OVERRIDING SYSTEM VALUE" : "") SELECT * "
                        + "FROM backup_\(table)",
                ]
            })
    }

    /// The records of `chain` as stored.
    static func records(_ stack: KMSStack, _ chain: String) async throws -> [AuditRecord] {
        try await stack.database.withClient { client in
            try await AuditTests.decodeAll(
                try await client.query(
                    """
                    SELECT chain_id, first_seq, records FROM kms_audit_segments WHERE chain_id = \(chain)
                        ORDER BY first_seq
                    """,
                    logger: Self.logger
                ))
        }
    }

    /// Number, covered sequence and MAC (hex) of each stored checkpoint of `chain`.
    static func checkpoints(_ stack: KMSStack, _ chain: String) async throws -> [(
        number: Int64, sequence: Int64, mac: String
    )] {
        try await stack.database.withClient { client in
            let rows = try await client.query(
                """
                SELECT checkpoint_no, last_seq, encode(mac, 'hex') FROM kms_audit_checkpoints WHERE chain_id = \(chain)
                    ORDER BY checkpoint_no
                """,
                logger: Self.logger
            )
            var found: [(number: Int64, sequence: Int64, mac: String)] = []
            for try await row in rows.decode((Int64, Int64, String).self) { found.append(row) }
            return found
        }
    }

    /// Replaces the stored records of `chain` by `change`'s, a segment per record, as an owner could.
    static func rewrite(
        _ stack: KMSStack, _ chain: String, extra: [String] = [], _ change: @Sendable ([AuditRecord]) -> [AuditRecord]
    ) async throws {
        let records = change(try await Self.records(stack, chain))
        let inserts = records.map { record in
            let entry = record.entry
            let bytes = AuditSegment.encode([record])
            return """
                INSERT INTO kms_audit_segments (chain_id, first_seq, last_seq, min_time, max_time, key_arns,
                    principal_arns, operations, error_codes, records)
                VALUES ('\(chain)', \(record.sequence), \(record.sequence), now(), now(), '{}',
                    ARRAY['\(entry.principalARN)'], ARRAY['\(entry.operation)'], '{}',
                    decode('\(bytes.readableBytesView.map { String(format: "%02x", $0) }.joined())', 'hex'))
                """
        }
        try await Self.asOwner(stack, ["DELETE FROM kms_audit_segments WHERE chain_id = '\(chain)'"] + inserts + extra)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Chain `first` written by one kmsd and, after a graceful stop, by the next: its checkpoints
    /// go on where they were, every record is covered once each stops, and the log verifies.
    @Test func anUntouchedLogVerifiesAndCheckpointsSurviveARestart() async throws {
        // Checkpoints a minute apart: only the first batch brings one, and only the graceful stop
        // can cover the rest.
        let stack = try await KMSStack.start(kmsdArguments: [
            "--audit-chain", "first", "--audit-checkpoint-ms", "60000",
        ])
        let key = try await stack.client.createKey()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { for index in 0..<10 { _ = try await stack.client.encrypt(key.keyID, [UInt8(index)]) } }
            }
            try await group.waitForAll()
        }
        #expect(try await Self.checkpoints(stack, "first").count == 1)
        // A graceful stop checkpoints what the last interval left uncovered.
        await stack.kmsd.stop()
        let second = try await stack.secondKMSD(arguments: ["--audit-chain", "first"])
        let kms = try second.client(credentials: stack.adminCredentials)
        var (result, chains) = try await Self.verify(kms)
        #expect(result.intact, "\(result.reason)")
        let before = try #require(chains.first { $0.chainID == "first" })
        #expect(before.records >= 41 && before.checkpoints == 2 && before.lastCheckpointNumber == 2)
        #expect(before.lastCheckpointSequence == before.records && before.recordsAfterCheckpoint == 0)
        #expect(result.checkpointsChecked == before.checkpoints)
        #expect(abs(before.lastCheckpointTime.date.timeIntervalSinceNow) < 600 && before.lastCheckpointMac.count == 64)

        // The next kmsd of the chain goes on from its head and its last checkpoint.
        for index in 0..<5 { _ = try await kms.encrypt(key.keyID, [UInt8(index)]) }
        // When records stop coming, the idle writer checkpoints what the interval left, running on.
        var covered = false
        for _ in 0..<50 where !covered {
            try await Task.sleep(for: .milliseconds(300))
            covered = try await Self.verify(kms).chains.first { $0.chainID == "first" }?.recordsAfterCheckpoint == 0
        }
        #expect(covered)
        await kms.close()
        await second.stop()
        let third = try await stack.secondKMSD(arguments: ["--audit-chain", "verifier"])
        let reader = try third.client(credentials: stack.adminCredentials)
        (result, chains) = try await Self.verify(reader)
        #expect(result.intact, "\(result.reason)")
        let after = try #require(chains.first { $0.chainID == "first" })
        #expect(
            after.records >= before.records + 6 && after.checkpoints > before.checkpoints
                && after.recordsAfterCheckpoint == 0)
        let stored = try await Self.checkpoints(stack, "first")
        #expect(stored.map(\.number) == Array(1...Int64(stored.count)))
        #expect(zip(stored, stored.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
        // Verified in calls of a few records: the same result, the markers carry the checkpoints on.
        let paged = try await Self.verify(reader, maxRecords: 3)
        #expect(
            paged.result.intact && paged.result.checkpointsChecked >= result.checkpointsChecked,
            "\(paged.result.reason)")
        #expect(paged.chains.first { $0.chainID == "first" } == after)
        await reader.close()
        await third.stop()
        await stack.stop()
    }

    /// A chain with more checkpoints than one page of them (256) or one call to kms-cryptod (128):
    /// all are checked, in one call or in many, and a bad one far along is still named.
    @Test func longChainsOfCheckpoints() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--audit-chain", "long", "--audit-checkpoint-ms", "0"])
        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = 8
        // One checkpoint per call as a rule; a checkpoint kms-cryptod was too slow to make (a
        // loaded machine) is left to the next, so calls go on until there are 300 (at most 1,500).
        for _ in 0..<30 {
            if try await Self.checkpoints(stack, "long").count >= 300 { break }
            for _ in 0..<50 { _ = try await stack.client.call(KMSMethod.generateRandom, random) }
        }
        await stack.kmsd.stop()
        let verifier = try await stack.secondKMSD(arguments: ["--audit-chain", "verifier"])
        let kms = try verifier.client(credentials: stack.adminCredentials)
        let stored = try await Self.checkpoints(stack, "long")
        #expect(stored.count >= 300)
        let whole = try await Self.verify(kms)
        #expect(whole.result.intact && whole.result.checkpointsChecked >= Int64(stored.count), "\(whole.result.reason)")
        let paged = try await Self.verify(kms, maxRecords: 40)
        #expect(
            paged.result.intact
                && paged.chains.first { $0.chainID == "long" } == whole.chains.first { $0.chainID == "long" },
            "\(paged.result.reason)")
        try await Self.backUp(stack, chains: ["long"])
        try await Self.asOwner(
            stack,
            [
                """
                UPDATE kms_audit_checkpoints SET mac = set_byte(mac, 5, get_byte(mac, 5) # 1) WHERE chain_id = 'long'
                    AND checkpoint_no = 270
                """
            ])
        for maxRecords: Int64 in [0, 40] {
            let forged = try await Self.verify(kms, maxRecords: maxRecords).result
            #expect(
                !forged.intact && forged.reason.contains("checkpoint 270's MAC does not verify")
                    && forged.firstBrokenSequence == stored[269].sequence, "\(forged.reason)")
        }
        try await Self.restore(stack, chains: ["long"])
        try await Self.asOwner(
            stack, ["DELETE FROM kms_audit_checkpoints WHERE chain_id = 'long' AND checkpoint_no = 257"])
        let deleted = try await Self.verify(kms).result
        #expect(
            !deleted.intact && deleted.reason.contains("checkpoint 257 is missing before checkpoint 258"),
            "\(deleted.reason)")
        await kms.close()
        await verifier.stop()
        await stack.stop()
    }

    /// Each thing someone holding the database could do to the log, as its owner, and what
    /// verification says; each is undone before the next.
    @Test func whatADatabaseOwnerDoesIsNamed() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--audit-chain", "a", "--audit-checkpoint-ms", "0"])
        let b = try await stack.secondKMSD(arguments: ["--audit-chain", "b", "--audit-checkpoint-ms", "0"])
        let kmsB = try b.client(credentials: stack.adminCredentials)
        let key = try await stack.client.createKey()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in [stack.client, kmsB] {
                for _ in 0..<4 {
                    group.addTask { for index in 0..<8 { _ = try await client.encrypt(key.keyID, [UInt8(index)]) } }
                }
            }
            try await group.waitForAll()
        }
        await kmsB.close()
        await b.stop()
        await stack.kmsd.stop()
        // The chains under test are left alone from here; a third kmsd verifies (and writes its own).
        let verifier = try await stack.secondKMSD(arguments: ["--audit-chain", "verifier"])
        let kms = try verifier.client(credentials: stack.adminCredentials)
        func expectBroken(_ chain: String, _ words: String, sourceLocation: SourceLocation = #_sourceLocation)
            async throws
        {
            let result = try await Self.verify(kms).result
            #expect(
                !result.intact && result.firstBrokenChain == chain && result.reason.contains(words), "\(result.reason)",
                sourceLocation: sourceLocation)
            try await Self.restore(stack, chains: ["a", "b"])
            let again = try await Self.verify(kms).result
            #expect(again.intact, "after restoring: \(again.reason)", sourceLocation: sourceLocation)
        }

        let (untouched, chains) = try await Self.verify(kms)
        #expect(untouched.intact, "\(untouched.reason)")
        let records = try await Self.records(stack, "a")
        let checkpoints = try await Self.checkpoints(stack, "a")
        // With --audit-checkpoint-ms 0, every batch brings a checkpoint of its last record, unless
        // kms-cryptod did not make it within its 250 ms (a loaded machine): then the head is
        // checkpointed once records stop. Either way each checkpoint covers a batch's last
        // record, and the last one covers the last record.
        let segments = try await stack.database.withClient { client in
            var lasts: [Int64] = []
            for try await last in try await client.query(
                "SELECT last_seq FROM kms_audit_segments WHERE chain_id = 'a' ORDER BY first_seq", logger: Self.logger
            ).decode(Int64.self) {
                lasts.append(last)
            }
            return lasts
        }
        #expect(
            Set(checkpoints.map(\.sequence)).isSubset(of: segments) && checkpoints.last?.sequence == segments.last
                && segments.count >= 3,
            "\(segments) \(checkpoints.map(\.sequence))")
        let reportA = try #require(chains.first { $0.chainID == "a" })
        #expect(
            reportA.records == Int64(records.count) && reportA.recordsAfterCheckpoint == 0
                && reportA.checkpoints == Int64(checkpoints.count))
        try await Self.backUp(stack, chains: ["a", "b"])
        let last = try #require(checkpoints.last)

        // A record edited in place.
        try await Self.rewrite(stack, "a") { records in
            var records = records
            records[1].entry.operation = "Decrypt"
            return records
        }
        try await expectBroken("a", "edited")

        // The chain replaced from record 2 on: consistent hashes, and a head row to match.
        let replaced: [AuditRecord] = {
            var records = records
            records[1].entry.operation = "Decrypt"
            for index in 1..<records.count {
                records[index].previousHash = records[index - 1].hash
                records[index].hash = AuditChain.hash(
                    sequence: records[index].sequence, entry: records[index].entry,
                    previous: records[index].previousHash)
            }
            return records
        }()
        #expect(AuditChain.firstBreak(in: replaced, after: (0, AuditChain.genesis)) == nil)
        try await Self.rewrite(
            stack, "a",
            extra: [
                """
                UPDATE kms_audit_chains SET last_hash = decode('\(Self.hex(replaced.last!.hash))', 'hex')
                    WHERE chain_id = 'a'
                """
            ]
        ) { _ in replaced }
        try await expectBroken("a", "checkpoint 2 covers (the chain was rewritten or replaced)")

        // Records dropped from the end, back before the last checkpoints, the head row put back to match.
        let cut = checkpoints[0].sequence
        let kept = try #require(records.first { $0.sequence == cut })
        try await Self.asOwner(
            stack,
            [
                "DELETE FROM kms_audit_segments WHERE chain_id = 'a' AND first_seq > \(cut)",
                """
                UPDATE kms_audit_chains SET last_seq = \(cut), last_hash = decode('\(Self.hex(kept.hash))', 'hex')
                    WHERE chain_id = 'a'
                """,
            ])
        try await expectBroken(
            "a",
            "covers record \(checkpoints[1].sequence), but the chain ends at \(cut): records were deleted from its end")

        // A forged checkpoint, and one copied from another chain.
        try await Self.asOwner(
            stack,
            [
                """
                UPDATE kms_audit_checkpoints SET mac = set_byte(mac, 0, get_byte(mac, 0) # 1) WHERE chain_id = 'a'
                    AND checkpoint_no = 2
                """
            ])
        try await expectBroken("a", "checkpoint 2's MAC does not verify")
        try await Self.asOwner(
            stack,
            [
                """
                UPDATE kms_audit_checkpoints a SET mac = b.mac, made_at_us = b.made_at_us, root_key_id = b.root_key_id
                FROM kms_audit_checkpoints b WHERE a.chain_id = 'a' AND a.checkpoint_no = 2 AND b.chain_id = 'b'
                    AND b.checkpoint_no = 2
                """
            ])
        try await expectBroken("a", "checkpoint 2's MAC does not verify")

        // A checkpoint row deleted: one in the middle, and the last one.
        try await Self.asOwner(stack, ["DELETE FROM kms_audit_checkpoints WHERE chain_id = 'a' AND checkpoint_no = 2"])
        try await expectBroken("a", "checkpoint 2 is missing before checkpoint 3")
        try await Self.asOwner(
            stack, ["DELETE FROM kms_audit_checkpoints WHERE chain_id = 'a' AND checkpoint_no = \(last.number)"])
        try await expectBroken(
            "a", "head row names checkpoint \(last.number), but its checkpoints end at \(last.number - 1)")

        // A whole chain removed, its checkpoints left.
        try await Self.asOwner(
            stack,
            [
                "DELETE FROM kms_audit_segments WHERE chain_id = 'b'",
                "DELETE FROM kms_audit_chains WHERE chain_id = 'b'",
            ])
        try await expectBroken(
            "b", "the chain ends at 0: records were deleted from its end (all of them: the chain was removed)")

        // Put back to an earlier state, records and checkpoints together: nothing stored can show
        // it, but the checkpoints an earlier verification saw (kms audit verify --state) do.
        let anchors = chains.filter { $0.lastCheckpointNumber > 0 }.map { chain in
            AdminAuditCheckpointAnchor.with {
                $0.chainID = chain.chainID
                $0.number = chain.lastCheckpointNumber
                $0.mac = chain.lastCheckpointMac
            }
        }
        #expect(try await Self.verify(kms, anchors: anchors).result.intact)
        try await Self.asOwner(
            stack,
            [
                "DELETE FROM kms_audit_segments WHERE chain_id = 'a' AND first_seq > \(cut)",
                "DELETE FROM kms_audit_checkpoints WHERE chain_id = 'a' AND checkpoint_no > 1",
                """
                UPDATE kms_audit_chains SET last_seq = \(cut), last_hash = decode('\(Self.hex(kept.hash))', 'hex'),
                    checkpoint_no = 1,
                    checkpoint_seq = \(cut), checkpoint_mac = decode('\(checkpoints[0].mac)', 'hex')
                        WHERE chain_id = 'a'
                """,
            ])
        let rolledBack = try await Self.verify(kms)
        #expect(rolledBack.result.intact && rolledBack.chains.first { $0.chainID == "a" }?.records == cut)
        let withAnchors = try await Self.verify(kms, anchors: anchors).result
        #expect(
            !withAnchors.intact && withAnchors.firstBrokenChain == "a"
                && withAnchors.reason.contains("which an earlier verification saw, is gone"), "\(withAnchors.reason)")
        try await Self.restore(stack, chains: ["a", "b"])
        // A chain that an earlier verification saw, gone.
        var ghost = anchors[0]
        ghost.chainID = "ghost"
        let gone = try await Self.verify(kms, anchors: anchors + [ghost]).result
        #expect(!gone.intact && gone.firstBrokenChain == "ghost" && gone.reason.contains("is gone"), "\(gone.reason)")

        // Without turning the triggers off, none of it is possible.
        for statement in [
            "TRUNCATE kms_audit_segments", "TRUNCATE kms_audit_checkpoints", "TRUNCATE kms_audit_chains",
            "DELETE FROM kms_audit_segments WHERE chain_id = 'a'",
            "UPDATE kms_audit_segments SET records = records WHERE chain_id = 'a'",
            "DELETE FROM kms_audit_checkpoints WHERE chain_id = 'a'",
            "UPDATE kms_audit_checkpoints SET mac = mac WHERE chain_id = 'a'",
            "DELETE FROM kms_audit_chains WHERE chain_id = 'a'",
            "UPDATE kms_audit_chains SET last_seq = last_seq - 1 WHERE chain_id = 'a'",
            "UPDATE kms_audit_chains SET checkpoint_no = 0 WHERE chain_id = 'a'",
            "UPDATE kms_audit_chains SET chain_id = 'c' WHERE chain_id = 'a'",
        ] {
            await #expect(throws: (any Error).self, "\(statement)") { try await AuditTests.sql(stack, [statement]) }
        }
        let final = try await Self.verify(kms).result
        #expect(final.intact && final.checkpointsChecked >= untouched.checkpointsChecked, "\(final.reason)")
        await kms.close()
        await verifier.stop()
        await stack.stop()
    }

    /// A chain cut back consistently (records, checkpoints and head row) while its kmsd runs:
    /// nothing stored shows it, but that kmsd remembers where its chain was and goes on from
    /// there, so the hole shows.
    @Test func aRunningKMSDShowsItsChainCutBack() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--audit-chain", "live", "--audit-checkpoint-ms", "0"])
        let key = try await stack.client.createKey()
        for index in 0..<8 { _ = try await stack.client.encrypt(key.keyID, [UInt8(index)]) }
        let records = try await Self.records(stack, "live")
        let checkpoints = try await Self.checkpoints(stack, "live")
        let back = checkpoints[checkpoints.count - 4]
        let kept = try #require(records.first { $0.sequence == back.sequence })
        try await Self.asOwner(
            stack,
            [
                "DELETE FROM kms_audit_segments WHERE chain_id = 'live' AND first_seq > \(back.sequence)",
                "DELETE FROM kms_audit_checkpoints WHERE chain_id = 'live' AND checkpoint_no > \(back.number)",
                """
                UPDATE kms_audit_chains SET last_seq = \(back.sequence), last_hash = decode('\(Self.hex(kept.hash))',
                    'hex'),
                    checkpoint_no = \(back.number), checkpoint_seq = \(back.sequence),
                        checkpoint_mac = decode('\(back.mac)', 'hex')
                WHERE chain_id = 'live'
                """,
            ])
        let other = try await stack.secondKMSD(arguments: ["--audit-chain", "other"])
        let reader = try other.client(credentials: stack.adminCredentials)
        #expect(try await Self.verify(reader).result.intact)
        // The next record of the kmsd that wrote the chain.
        _ = try await stack.client.encrypt(key.keyID, [9])
        let result = try await Self.verify(reader).result
        #expect(
            !result.intact && result.firstBrokenChain == "live" && result.reason.contains("records are missing"),
            "\(result.reason)")
        let after = try await Self.checkpoints(stack, "live")
        #expect(after.last.map { $0.number > checkpoints.last!.number } == true)
        await reader.close()
        await other.stop()
        await stack.stop()
    }

    /// Checkpoints are made under the newest root key and verify while their root key is held.
    /// Once an old one is retired, a later checkpoint vouches for those made under it (its MAC
    /// covers theirs); a chain whose newest checkpoint was made under it cannot be checked, and
    /// verification says so.
    @Test func checkpointsAcrossARootKeyRotation() async throws {
        let stack = try await KMSStack.start(kmsdArguments: [
            "--audit-chain", "busy", "--audit-checkpoint-ms", "0", "--rewrap-interval-seconds", "1",
        ])
        let idle = try await stack.secondKMSD(arguments: ["--audit-chain", "idle", "--audit-checkpoint-ms", "0"])
        let idleClient = try idle.client(credentials: stack.adminCredentials)
        let key = try await stack.client.createKey()
        for index in 0..<3 {
            _ = try await stack.client.encrypt(key.keyID, [UInt8(index)])
            _ = try await idleClient.encrypt(key.keyID, [UInt8(index)])
        }
        await idleClient.close()
        await idle.stop()
        let oldRoot = try #require(try await RootKeyRotationTests.status(stack.client).rootKeys.first { $0.newest })
            .rootKeyID
        #expect(
            try await WorkerProcess.run(["rotate-root-key", "--root-key-file", stack.worker.keyringPath]).status == 0)
        stack.worker.signal(SIGHUP)
        var newRoot: String?
        for _ in 0..<50 where newRoot == nil {
            newRoot = try await RootKeyRotationTests.status(stack.client).rootKeys.first {
                $0.newest && $0.rootKeyID != oldRoot
            }?.rootKeyID
            if newRoot == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        for index in 0..<3 { _ = try await stack.client.encrypt(key.keyID, [UInt8(index)]) }
        let (rotated, chains) = try await Self.verify(stack.client)
        #expect(rotated.intact, "\(rotated.reason)")
        #expect(chains.first { $0.chainID == "busy" }?.lastCheckpointRootKeyID == newRoot)
        #expect(chains.first { $0.chainID == "idle" }?.lastCheckpointRootKeyID == oldRoot)

        // Re-wrapped first, as an operator does, so that nothing else depends on the old root key.
        _ = try await stack.client.call(AdminMethod.startRewrap, AdminStartRewrapRequest())
        for _ in 0..<100 where try await RootKeyRotationTests.status(stack.client).state != "Finished" {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(
            try await WorkerProcess.run([
                "retire-root-key", "--root-key-file", stack.worker.keyringPath, "--root-key-id", oldRoot,
            ]).status == 0)
        stack.worker.signal(SIGHUP)
        for _ in 0..<50
        where try await RootKeyRotationTests.status(stack.client).rootKeys.contains(where: {
            $0.rootKeyID == oldRoot && $0.inKeyring
        }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let retired = try await Self.verify(stack.client).result
        #expect(
            !retired.intact && retired.firstBrokenChain == "idle"
                && retired.reason.contains("a root key kms-cryptod does not hold"), "\(retired.reason)")
        await stack.stop()
    }

    /// `kms audit verify --state FILE`: the checkpoints seen are kept in FILE, and a later run
    /// names a chain cut back since.
    @Test func theCommandLineKeepsWhatItSaw() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--audit-chain", "cli", "--audit-checkpoint-ms", "0"])
        let key = try await stack.client.createKey()
        for index in 0..<4 { _ = try await stack.client.encrypt(key.keyID, [UInt8(index)]) }
        await stack.kmsd.stop()
        let verifier = try await stack.secondKMSD(arguments: ["--audit-chain", "verifier"])
        var env = stack.environment
        env["KMS_ENDPOINT"] = verifier.endpoint
        let state = stack.worker.directory.appendingPathComponent("audit-state.json").path
        let first = try await CLITests.kms(["audit", "verify", "--state", state], env: env)
        #expect(first.status == 0 && first.stdout.hasPrefix("intact"), "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("chain cli: ") && first.stdout.contains("none after it"), "\(first.stdout)")
        let saved = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state))) as? [String: Any])
        #expect((saved["chains"] as? [String: Any])?["cli"] != nil)
        #expect(try await CLITests.kms(["audit", "verify", "--state", state], env: env).status == 0)
        // Cut back to its first checkpoint, consistently.
        let checkpoints = try await Self.checkpoints(stack, "cli")
        let kept = try #require(try await Self.records(stack, "cli").first { $0.sequence == checkpoints[0].sequence })
        try await Self.asOwner(
            stack,
            [
                "DELETE FROM kms_audit_segments WHERE chain_id = 'cli' AND first_seq > \(kept.sequence)",
                "DELETE FROM kms_audit_checkpoints WHERE chain_id = 'cli' AND checkpoint_no > 1",
                """
                UPDATE kms_audit_chains SET last_seq = \(kept.sequence), last_hash = decode('\(Self.hex(kept.hash))',
                    'hex'), checkpoint_no = 1,
                    checkpoint_seq = \(kept.sequence), checkpoint_mac = decode('\(checkpoints[0].mac)', 'hex')
                        WHERE chain_id = 'cli'
                """,
            ])
        let broken = try await CLITests.kms(["audit", "verify", "--state", state], env: env)
        #expect(
            broken.status == 1 && broken.stdout.hasPrefix("BROKEN: chain cli") && broken.stdout.contains("is gone"),
            "\(broken.stdout)\(broken.stderr)")
        await verifier.stop()
        await stack.stop()
    }
}
