import Foundation
import KMSClient
import KMSDomain
import KMSProto
import KMSStore
import KMSTestSupport
import Logging
import Testing

/// Listing the audit log (issue 16): a key's history starts with its creation, and a filtered
/// listing in pages of any size returns exactly the matching records, in order, none twice.
@Suite struct AuditListingTests {
    static let logger = Logger(label: "test")

    /// A whole listing, following the markers: its records and the size of each page.
    static func listAll(
        _ kms: KMSClient, limit: Int32 = 1000, _ configure: (inout AdminListAuditRecordsRequest) -> Void = { _ in }
    ) async throws -> (records: [AdminAuditRecord], pages: [Int]) {
        var request = AdminListAuditRecordsRequest()
        configure(&request)
        request.limit = limit
        var records: [AdminAuditRecord] = []
        var pages: [Int] = []
        repeat {
            let page = try await kms.call(AdminMethod.listAuditRecords, request)
            records += page.records
            pages.append(page.records.count)
            request.marker = page.nextMarker
        } while !request.marker.isEmpty
        return (records, pages)
    }

    static func id(_ record: AdminAuditRecord) -> String { "\(record.chainID)/\(record.sequence)" }

    /// ListAuditRecords calls recorded so far, read behind the service's back (a listing through
    /// it would add its own).
    static func listCalls(_ database: TestDatabase) async throws -> Int {
        try await database.withClient { client in
            var calls = 0
            try await AuditStore(client: client, logger: Self.logger).scan(
                AuditStore.Filter(operation: "ListAuditRecords")
            ) {
                calls += $0.count
                return true
            }
            return calls
        }
    }

    @Test func aKeysHistoryStartsWithItsCreationAndPagesCompletelyInOrder() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let (readerARN, reader) = try await stack.principal("reader", type: "role")
        var keys: [KMSKeyMetadata] = []
        for name in ["a", "b", "c"] { keys.append(try await kms.createKey(name)) }
        // Three callers at once, so that group commits mix the keys' records; some refused.
        let pad = String(repeating: "p", count: 400)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, key) in keys.enumerated() {
                group.addTask {
                    for round in 0..<40 {
                        _ = try await kms.encrypt(
                            key.keyID, [UInt8(round)], context: ["round": "\(round)", "pad": pad])
                        if round % 10 == index {
                            #expect(
                                await code { _ = try await reader.encrypt(key.keyID, [1]) } == "AccessDeniedException")
                        }
                        if round % 13 == 0 { _ = try await kms.describe(key.keyID) }
                    }
                }
            }
            try await group.waitForAll()
        }
        try await kms.createAlias("alias/history", keys[0].keyID)

        // The whole log: more than one answer holds, so pages end by size, well short of the limit.
        let (full, fullPages) = try await Self.listAll(kms)
        #expect(fullPages.count >= 2 && fullPages[0] < 1000, "\(fullPages)")
        #expect(Set(full.map(Self.id)).count == full.count)
        for key in keys {
            let history = full.filter { $0.keyArns.contains(key.arn) }
            let created = try #require(history.first)
            #expect(created.operation == "CreateKey" && created.keyArns == [key.arn] && created.errorCode.isEmpty)
            #expect(history.filter { $0.operation == "CreateKey" }.count == 1)
            #expect(history.filter { $0.operation == "Encrypt" && $0.errorCode.isEmpty }.count == 40)
        }
        // Each filter, in pages of any size: exactly the records the whole log has, in its order.
        let filters: [(String, (inout AdminListAuditRecordsRequest) -> Void, (AdminAuditRecord) -> Bool)] = [
            ("key a", { $0.keyArn = keys[0].arn }, { $0.keyArns.contains(keys[0].arn) }),
            ("key b", { $0.keyArn = keys[1].arn }, { $0.keyArns.contains(keys[1].arn) }),
            (
                "key c, Encrypt",
                {
                    $0.keyArn = keys[2].arn
                    $0.operation = "Encrypt"
                }, { $0.keyArns.contains(keys[2].arn) && $0.operation == "Encrypt" }
            ),
            ("reader", { $0.principalArn = readerARN }, { $0.principalArn == readerARN }),
            ("refused", { $0.errorCode = "AccessDeniedException" }, { $0.errorCode == "AccessDeniedException" }),
            (
                "key a, refused",
                {
                    $0.keyArn = keys[0].arn
                    $0.errorCode = "AccessDeniedException"
                },
                { $0.keyArns.contains(keys[0].arn) && $0.errorCode == "AccessDeniedException" }
            ),
            ("CreateKey", { $0.operation = "CreateKey" }, { $0.operation == "CreateKey" }),
        ]
        for (name, configure, matches) in filters {
            let expected = full.filter(matches).map(Self.id)
            #expect(!expected.isEmpty, "\(name)")
            for limit: Int32 in [1, 2, 3, 7, 1000] {
                let (listed, pages) = try await Self.listAll(kms, limit: limit, configure)
                #expect(listed.map(Self.id) == expected, "\(name), pages of \(limit)")
                // Every page but the last is full: a call reads on until it has a page's worth.
                if limit < 7 {
                    #expect(pages.dropLast().allSatisfy { $0 == limit }, "\(name), pages of \(limit): \(pages)")
                }
            }
        }

        // The command line: the key's history from its creation, in pages of two, CloudTrail-shaped.
        let history = full.filter { $0.keyArns.contains(keys[0].arn) }.map(Self.id)
        let cli = try await CLITests.kms(
            ["audit", "--key-arn", keys[0].arn, "--page-size", "2"], env: stack.environment)
        #expect(cli.status == 0, "\(cli.stderr)")
        let events = try cli.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(events.compactMap { $0["eventID"] as? String } == history)
        let creation = try #require(events.first)
        #expect(creation["eventName"] as? String == "CreateKey")
        let metadata = (creation["responseElements"] as? [String: Any])?["keyMetadata"] as? [String: String]
        #expect(metadata == ["arn": keys[0].arn, "keyId": keys[0].keyID])
        #expect((creation["resources"] as? [[String: String]])?.first?["ARN"] == keys[0].arn)
        #expect(cli.stdout.hasPrefix("{\"eventID\":\""))
        let encrypt = try #require(events.first { $0["eventName"] as? String == "Encrypt" && $0["errorCode"] == nil })
        #expect(
            Set(encrypt.keys) == [
                "eventID", "eventName", "eventSource", "eventTime", "hash", "requestID", "requestParameters",
                "resources", "sourceIPAddress",
                "transport", "userIdentity",
            ])
        #expect((encrypt["requestParameters"] as? [String: Any])?["keyId"] as? String == keys[0].arn)
        #expect(
            ((encrypt["userIdentity"] as? [String: Any])?["accessKeyId"] as? String)
                == stack.adminCredentials.accessKeyID)
        let first5 = try await CLITests.kms(
            ["audit", "--key-arn", keys[0].arn, "--page-size", "2", "--max-items", "5"], env: stack.environment)
        #expect(first5.stdout.split(separator: "\n").count == 5)
        #expect(try await CLITests.kms(["audit", "--page-size", "0"], env: stack.environment).status != 0)
        await reader.close()
        await stack.stop()
    }

    /// `kms audit` asks for full pages all the way: it used to ask for 1000 less what it had
    /// printed, so past 1000 records it listed one record a call (80,000 records, 79,000 calls).
    @Test func kmsAuditListsALongHistoryInFullPages() async throws {
        let stack = try await KMSStack.start()
        let key = try await stack.client.createKey("busy")
        try await AuditLoad.append(stack.database, count: 1500, keys: 20, extra: [key.arn: 1])
        let before = try await Self.listCalls(stack.database)
        let listed = try await CLITests.kms(["audit", "--key-arn", key.arn], env: stack.environment)
        let calls = try await Self.listCalls(stack.database) - before
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.split(separator: "\n").count == 1501)
        // Pages end at the frame's size (about 150 of these records), not at one record.
        #expect(calls <= 20, "\(calls) calls")
        await stack.stop()
    }

    /// The store's listing, straight: over two chains' interleaved segments, every filter, in
    /// pages of 1 to 64 records, reading at most 1, 3 or any number of segments a call.
    @Test func everyFilterPagesExactlyOverInterleavedChains() async throws {
        let database = try await TestDatabase.create()
        defer { Task { await database.drop() } }
        try await database.withClient { try await Migrations.apply(on: $0, logger: Self.logger) }
        let sparse = AuditLoad.keyARN(900_001)
        let medium = AuditLoad.keyARN(900_002)
        let written = try await AuditLoad.append(
            database, chains: ["replica-a", "replica-b"], count: 300, maxSegment: 8, keys: 12,
            extra: [sparse: 0.02, medium: 0.25], seed: 16
        )
        let times = written.map(\.entry.time)
        let filters: [AuditStore.Filter] = [
            AuditStore.Filter(),
            AuditStore.Filter(keyARN: sparse),
            AuditStore.Filter(keyARN: medium),
            AuditStore.Filter(keyARN: AuditLoad.keyARN(7)),
            AuditStore.Filter(keyARN: AuditLoad.keyARN(999_999)),
            AuditStore.Filter(principalARN: AuditLoad.principals[1]),
            AuditStore.Filter(operation: "ReEncrypt"),
            AuditStore.Filter(errorCode: "AccessDeniedException"),
            AuditStore.Filter(from: times[80], to: times[220]),
            AuditStore.Filter(keyARN: medium, principalARN: AuditLoad.principals[2], operation: "Decrypt"),
            AuditStore.Filter(keyARN: medium, errorCode: "AccessDeniedException", from: times[30]),
        ]
        try await database.withClient { client in
            let store = AuditStore(client: client, logger: Self.logger)
            for (index, filter) in filters.enumerated() {
                let expected = written.filter { filter.matches($0.entry) }.map { "\($0.chain)/\($0.sequence)" }
                // (records a page, segments a call)
                for (limit, maxSegments) in [(1, 20_000), (2, 1), (3, 3), (64, 20_000)] {
                    var found: [String] = []
                    var marker = AuditStore.Marker.start
                    while true {
                        let page = try await store.list(filter, after: marker, limit: limit, maxSegments: maxSegments)
                        #expect(page.records.count <= limit)
                        found += page.records.map { "\($0.record.chain)/\($0.record.sequence)" }
                        if page.records.count == limit, let last = page.records.last {
                            marker = last.marker
                        } else if let resume = page.resume {
                            marker = resume
                        } else {
                            break
                        }
                    }
                    #expect(found == expected, "filter \(index), pages of \(limit), \(maxSegments) segments a call")
                }
            }
        }
    }
}
