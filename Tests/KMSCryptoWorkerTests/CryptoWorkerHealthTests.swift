import Foundation
import KMSRPC
import KMSTestSupport
import KMSWorkerProto
import Testing

/// kms-cryptod's health listener (`--health-listen`) and its SIGTERM: the socket stops
/// accepting, and the connections kmsd holds are served until kmsd closes them or the grace
/// period ends.
@Suite struct CryptoWorkerHealthTests {
    static func describe(_ connection: RPCClientConnection) async throws -> Int {
        try await connection.call(WorkerMethod.describe, WorkerDescribeRequest()).rootKeyIds.count
    }

    @Test func theHealthListenerServesTheProbesAndNothingElse() async throws {
        let port = try await freeLoopbackPort()
        let worker = try await WorkerProcess()
        try await worker.start(extraArguments: ["--health-listen", "127.0.0.1:\(port)"])
        let alive = try await httpGet("/healthz", port: port)
        #expect(alive.status == 200 && alive.body == "ok\n")
        let ready = await pollHTTP("/readyz", port: port) { status, _ in status == 200 }
        #expect(ready.status == 200 && ready.body == "ok\n", "\(ready)")
        for path in ["/metrics", "/", "/keys", "/readyz/../keyring"] {
            #expect(try await httpGet(path, port: port).status == 404, "\(path)")
        }
        await worker.stop()
    }

    @Test func onSIGTERMTheOpenConnectionsAreServedUntilTheyClose() async throws {
        let port = try await freeLoopbackPort()
        let worker = try await WorkerProcess()
        // A grace period far above the test's bounds: the exit below comes from the close.
        try await worker.start(extraArguments: [
            "--health-listen", "127.0.0.1:\(port)", "--shutdown-grace-seconds", "600",
        ])
        let kmsdsConnection = try await worker.connect()
        #expect(try await Self.describe(kmsdsConnection) == 1)

        worker.signal(SIGTERM)
        let notReady = await pollHTTP("/readyz", port: port) { status, _ in status == 503 }
        #expect(notReady.status == 503 && notReady.body.contains("shutdown:"), "\(notReady)")
        // No new connection (the socket file is gone), while the open one is still served.
        let refuseBy = ContinuousClock.now + .seconds(30)
        var refused = false
        while !refused, ContinuousClock.now < refuseBy {
            if let connection = try? await worker.connect() {
                await connection.close()
                try await Task.sleep(for: .milliseconds(20))
            } else {
                refused = true
            }
        }
        #expect(refused)
        #expect(try await Self.describe(kmsdsConnection) == 1)
        #expect(try await Self.describe(kmsdsConnection) == 1)
        #expect(worker.process?.isRunning == true)

        await kmsdsConnection.close()
        #expect(await worker.waitForExit(within: .seconds(60)) == 0)
    }

    @Test func theGracePeriodBoundsTheWaitForOpenConnections() async throws {
        let worker = try await WorkerProcess()
        try await worker.start(extraArguments: ["--shutdown-grace-seconds", "1"])
        let connection = try await worker.connect()
        #expect(try await Self.describe(connection) == 1)
        worker.signal(SIGTERM)
        // The connection stays open: kms-cryptod closes it once the grace period is over.
        #expect(await worker.waitForExit(within: .seconds(60)) == 0)
        await #expect(throws: (any Error).self) { _ = try await Self.describe(connection) }
        await connection.close()
    }
}
