import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Synchronization
import Testing

/// Root key rotation under traffic: a new root key, a re-wrap job that survives a kmsd crash,
/// no failed request meanwhile, and afterwards the old root key retired with every key and
/// access key still usable.
@Suite struct RootKeyRotationTests {
    final class Tally: Sendable {
        let ok = Atomic<Int>(0)
        let failed = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
    }

    static func status(_ kms: KMSClient) async throws -> AdminGetRewrapStatusResponse {
        try await kms.call(AdminMethod.getRewrapStatus, AdminGetRewrapStatusRequest())
    }

    @Test func rewrapResumesAfterACrashWithNoFailedRequest() async throws {
        // This kmsd never looks for the job after starting: it stands for one that crashed.
        let stack = try await KMSStack.start(kmsdArguments: ["--rewrap-interval-seconds", "3600"])
        let kms = stack.client
        var blobs: [(String, Data)] = []
        for index in 0..<40 {
            let key = try await kms.createKey("key \(index)")
            blobs.append((key.keyID, try await kms.encrypt(key.keyID, [UInt8(index)])))
        }
        let before = try await Self.status(kms)
        let oldRoot = try #require(before.rootKeys.first { $0.newest })
        #expect(oldRoot.keyMaterials == 40)

        #expect(
            try await WorkerProcess.run(["rotate-root-key", "--root-key-file", stack.worker.keyringPath]).status == 0)
        stack.worker.signal(SIGHUP)
        var rotated = false
        for _ in 0..<50 where !rotated {
            rotated = try await Self.status(kms).rootKeys.contains { $0.newest && $0.rootKeyID != oldRoot.rootKeyID }
            if !rotated { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(rotated)
        let started = try await kms.call(AdminMethod.startRewrap, AdminStartRewrapRequest())
        #expect(started.started)
        #expect(try await Self.status(kms).state == "Running")
        await stack.kmsd.crash()

        // Another kmsd takes the job over while traffic goes on through it.
        let other = try await stack.secondKMSD(arguments: ["--rewrap-interval-seconds", "1"])
        let client = try other.client(credentials: stack.adminCredentials)
        let tally = Tally()
        let traffic = Task { [blobs] in
            while !tally.stop.load(ordering: .relaxed) {
                for (keyID, blob) in blobs.prefix(8) {
                    do {
                        _ = try await client.decrypt(blob)
                        _ = try await client.encrypt(keyID, [1, 2, 3])
                        tally.ok.add(2, ordering: .relaxed)
                    } catch {
                        tally.failed.withLock { $0.append("\(error)") }
                    }
                }
            }
        }
        var finished: AdminGetRewrapStatusResponse?
        for _ in 0..<200 {
            let status = try await Self.status(client)
            if status.state == "Finished" {
                finished = status
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        tally.stop.store(true, ordering: .relaxed)
        _ = await traffic.result
        let done = try #require(finished)
        #expect(done.jobID == started.jobID)
        #expect(done.rewrapped >= 41)  // 40 materials and the admin's access key secret at least
        #expect(
            done.rootKeys.first { $0.rootKeyID == oldRoot.rootKeyID }.map { $0.keyMaterials + $0.accessKeySecrets } == 0
        )
        #expect(tally.failed.withLock { $0 }.isEmpty, "\(tally.failed.withLock { $0.prefix(3) })")
        #expect(tally.ok.load(ordering: .relaxed) > 0)

        // Retire the old root key; a restarted worker (no cached material) still serves everything.
        #expect(
            try await WorkerProcess.run([
                "retire-root-key", "--root-key-file", stack.worker.keyringPath, "--root-key-id", oldRoot.rootKeyID,
            ]).status == 0)
        await stack.worker.stop()
        try await stack.worker.start()
        let fresh = try other.client(credentials: stack.adminCredentials)
        for (index, (_, blob)) in blobs.enumerated() {
            #expect(try await fresh.decrypt(blob).plaintext == Data([UInt8(index)]))
        }
        let after = try await Self.status(fresh)
        #expect(after.unavailable == 0)
        #expect(!after.rootKeys.contains { $0.rootKeyID == oldRoot.rootKeyID && $0.inKeyring })
        await fresh.close()
        await client.close()
        await other.stop()
        await stack.stop()
    }
}
