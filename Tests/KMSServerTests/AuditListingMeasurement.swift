import Foundation
import KMSClient
import KMSDomain
import KMSProto
import KMSStore
import KMSTestSupport
import Logging
import Testing

/// Times `kms audit --key-arn` over a long synthetic log (issue 16: 217 s for one key's
/// history). Not part of the suite: it runs when KMS_AUDIT_LISTING_MEASURE names a record count,
/// e.g. KMS_AUDIT_LISTING_MEASURE=80000 swift test --filter AuditListingMeasurement, and prints
/// its figures; it asserts only that each listing is complete. KMSD, KMS_CRYPTOD and KMS_CLI
/// name release binaries to time instead of the debug ones; KMS_AUDIT_LISTING_KEEP keeps the
/// database (for EXPLAIN) and times nothing.
@Suite struct AuditListingMeasurement {
    static let records = ProcessInfo.processInfo.environment["KMS_AUDIT_LISTING_MEASURE"].flatMap(Int.init)

    @Test(.enabled(if: Self.records != nil)) func timeOneKeysHistoryOverALongLog() async throws {
        let count = try #require(Self.records)
        let stack = try await KMSStack.start()
        let real = try await stack.client.createKey("measured")
        let keys = [
            "sparse": AuditLoad.keyARN(900_001), "medium": AuditLoad.keyARN(900_002),
            "dense": AuditLoad.keyARN(900_003),
        ]
        let loading = ContinuousClock.now
        let written = try await AuditLoad.append(
            stack.database, count: count, extra: [keys["sparse"]!: 0.002, keys["medium"]!: 0.05, keys["dense"]!: 0.9]
        )
        print("measure: \(written.count) records written in \(ContinuousClock.now - loading)")
        if ProcessInfo.processInfo.environment["KMS_AUDIT_LISTING_KEEP"] != nil {
            // The database stays, for looking at query plans; drop it by hand.
            print("measure: kept \(stack.database.url)")
            await stack.client.close()
            await stack.kmsd.stop()
            await stack.worker.stop()
            return
        }
        for (name, arn) in keys.sorted(by: { $0.key > $1.key }) + [("created", real.arn)] {
            let expected = written.filter { $0.entry.keyARNs.contains(arn) }.count
            let callsBefore = try await AuditListingTests.listCalls(stack.database)
            let started = ContinuousClock.now
            let run = try await CLITests.kms(["audit", "--key-arn", arn], env: stack.environment)
            let took = ContinuousClock.now - started
            let calls = try await AuditListingTests.listCalls(stack.database) - callsBefore
            let lines = run.stdout.split(separator: "\n").count
            print(
                "measure: key \(name): \(lines) records (\(expected) synthetic) in \(took), \(calls) "
                    + "ListAuditRecords calls"
            )
            #expect(run.status == 0, "\(run.stderr)")
            #expect(lines >= expected)
            // The same through the API alone, without the CLI's JSON.
            let apiStarted = ContinuousClock.now
            var request = AdminListAuditRecordsRequest()
            request.keyArn = arn
            request.limit = 1000
            var listed = 0
            repeat {
                let page = try await stack.client.call(AdminMethod.listAuditRecords, request)
                listed += page.records.count
                request.marker = page.nextMarker
            } while !request.marker.isEmpty
            print(
                "measure: key \(name): \(listed) records through the API (this test's client) in "
                    + "\(ContinuousClock.now - apiStarted)"
            )
            let storeStarted = ContinuousClock.now
            // And from the store alone, without the service's pages and messages.
            let scanned = try await stack.database.withClient { client in
                var scanned = 0
                try await AuditStore(client: client, logger: Logger(label: "test")).scan(AuditStore.Filter(keyARN: arn))
                { batch in
                    scanned += batch.count
                    return true
                }
                return scanned
            }
            print(
                "measure: key \(name): \(scanned) records read from the store in \(ContinuousClock.now - storeStarted)")
        }
        await stack.stop()
    }
}
