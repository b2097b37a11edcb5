import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// `--audit-writers`: one kmsd writing several chains side by side. Every request still leaves
/// exactly one record, the records spread over the lanes, changes' records stay on the kmsd's
/// own chain (their outbox rows name it), and every chain verifies with its checkpoints.
@Suite struct AuditLanesTests {
    @Test func requestsSpreadOverTheLanesAndEveryChainVerifies() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--audit-writers", "3", "--audit-chain", "lanes"])
        let kms = stack.client
        let key = try await kms.createKey("lanes")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in 0..<25 {
                        _ = try await kms.encrypt(key.keyID, [UInt8(worker), UInt8(index)])
                    }
                }
            }
            try await group.waitForAll()
        }
        let records = try await AuditTests.records(kms) { $0.keyArn = key.arn }
        let encrypts = records.filter { $0.operation == "Encrypt" }
        #expect(encrypts.count == 200)
        #expect(Set(encrypts.map(\.requestID)).count == 200)
        let chains = Dictionary(grouping: encrypts, by: \.chainID).mapValues(\.count)
        #expect(Set(chains.keys).isSubset(of: ["lanes", "lanes.2", "lanes.3"]), "\(chains)")
        #expect(chains.count == 3, "\(chains)")
        // CreateKey changed something: its record was committed with the key, on the kmsd's chain.
        #expect(records.filter { $0.operation == "CreateKey" }.map(\.chainID) == ["lanes"])

        let verified = try await AuditTests.verify(kms)
        #expect(verified.intact)
        #expect(Set(verified.chains.map(\.chainID)).isSuperset(of: ["lanes", "lanes.2", "lanes.3"]))
        await stack.stop()
    }

    @Test func kmsdRefusesLanesThatCannotBeNamed() async throws {
        let long = String(repeating: "c", count: 127)
        let run = try await runChildProcess(
            URL(fileURLWithPath: binaryPath("kmsd", environment: "KMSD")),
            [
                "serve", "--audit-chain", long, "--audit-writers", "2", "--database-url", "postgres://unused",
                "--worker-socket", "/nonexistent/w.sock",
            ])
        #expect(run.status != 0)
        #expect(run.stderrText.contains("room for the lanes' suffix ('.2')"), "\(run.stderrText)")
        let many = try await runChildProcess(
            URL(fileURLWithPath: binaryPath("kmsd", environment: "KMSD")),
            [
                "serve", "--audit-writers", "17", "--database-url", "postgres://unused", "--worker-socket",
                "/nonexistent/w.sock",
            ])
        #expect(many.status != 0 && many.stderrText.contains("--audit-writers must be 1..16"), "\(many.stderrText)")
    }
}
