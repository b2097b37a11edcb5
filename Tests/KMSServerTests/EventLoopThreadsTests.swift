import Foundation
import KMSTestSupport
import Testing

/// `--event-loop-threads` sizes the event loop group of kmsd and of kms-cryptod (scripts/kms-local
/// gives each a share of the machine's cores); a count out of range, or not a number, stops the
/// daemon at its start with a message that names the setting.
@Suite struct EventLoopThreadsTests {
    /// The daemon's event loop threads, by the names NIO gives its singleton group's threads.
    static func loopThreads(_ pid: Int32) throws -> Int {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return try tasks.count { task in
            try String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8).hasPrefix("NIO-SGLTN-")
        }
    }

    @Test func eachDaemonRunsTheLoopsItIsGivenAndServes() async throws {
        // Three for kmsd (more than this machine's cores, so not NIO's default by chance), one
        // for kms-cryptod.
        let stack = try await KMSStack.start(
            kmsdArguments: ["--event-loop-threads", "3"], workerArguments: ["--event-loop-threads", "1"])
        #expect(try Self.loopThreads(try #require(stack.kmsd.pid)) == 3)
        #expect(try Self.loopThreads(try #require(stack.worker.process?.processIdentifier)) == 1)
        let key = try await stack.client.createKey("loops").keyID
        // Requests on several connections at once, so that more than one loop carries them.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask {
                    let plaintext = Array("secret \(index)".utf8)
                    let blob = try await stack.client.encrypt(key, plaintext)
                    #expect(Array(try await stack.client.decrypt(blob).plaintext) == plaintext)
                }
            }
            try await group.waitForAll()
        }
        await stack.stop()
    }

    @Test func kmsdRefusesACountOutOfRangeOrNotANumber() async throws {
        let common = ["serve", "--worker-socket", "/nonexistent", "--database-url", "postgres://kms@127.0.0.1:1/kms"]
        for (arguments, env) in [
            (common + ["--event-loop-threads", "0"], [:]),
            (common + ["--event-loop-threads", "257"], [:]),
            (common, ["KMSD_EVENT_LOOP_THREADS": "many"]),
        ] {
            let run = try await DatabaseURLSettingTests.kmsd(arguments, env: env)
            #expect(run.status != 0)
            #expect(
                run.stderrText.contains("--event-loop-threads (KMSD_EVENT_LOOP_THREADS) must be 1 to 256"),
                "\(arguments) \(env): \(run.stderrText)")
        }
    }

    @Test func kmsCryptodRefusesACountOutOfRangeOrNotANumber() async throws {
        let worker = try await WorkerProcess()
        let outOfRange = try await WorkerProcess.run([
            "serve", "--root-key-file", "/nonexistent", "--socket", "/tmp/unused.sock", "--event-loop-threads", "0",
        ])
        #expect(outOfRange.status != 0)
        #expect(outOfRange.output.contains("--event-loop-threads (KMS_CRYPTOD_EVENT_LOOP_THREADS) must be 1 to 256"))
        do {
            try await worker.start(childEnvironment: ["KMS_CRYPTOD_EVENT_LOOP_THREADS": "many"])
            Issue.record("kms-cryptod started with KMS_CRYPTOD_EVENT_LOOP_THREADS=many")
        } catch {
            #expect(String(describing: error).contains("KMS_CRYPTOD_EVENT_LOOP_THREADS must be an integer, not 'many'"))
        }
        await worker.stop()
    }
}
