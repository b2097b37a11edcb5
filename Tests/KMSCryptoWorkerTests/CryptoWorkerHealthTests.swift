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

    /// Every setting of `serve` from `KMS_CRYPTOD_*` (as a manifest's ConfigMap gives them), and
    /// a value there that is not one is refused by name before anything starts.
    @Test func settingsComeFromTheEnvironmentWhenNoFlagGivesThem() async throws {
        let port = try await freeLoopbackPort()
        let worker = try await WorkerProcess()
        try await worker.start(environment: [
            "KMS_CRYPTOD_ROOT_KEY_FILE": worker.keyringPath, "KMS_CRYPTOD_SOCKET": worker.socketPath,
            "KMS_CRYPTOD_HEALTH_LISTEN": "127.0.0.1:\(port)", "KMS_CRYPTOD_LOG_LEVEL": "warning",
            "KMS_CRYPTOD_SHUTDOWN_GRACE_SECONDS": "0", "KMS_CRYPTOD_CACHE_SIZE": "10",
            "KMS_CRYPTOD_REGIONS": "eu-west-1,us-east-1", "KMS_CRYPTOD_ACTIVE_ROOT_KEY": "",
        ])
        let ready = await pollHTTP("/readyz", port: port) { status, _ in status == 200 }
        #expect(ready.status == 200, "\(ready)")
        let connection = try await worker.connect()
        #expect(try await Self.describe(connection) == 1)
        await connection.close()
        #expect(await worker.waitForExit(within: .zero) == nil)
        await worker.stop()

        var environment = ProcessInfo.processInfo.environment
        environment["KMS_CRYPTOD_ROOT_KEY_FILE"] = worker.keyringPath
        environment["KMS_CRYPTOD_SOCKET"] = worker.socketPath
        for (name, value, says) in [
            ("KMS_CRYPTOD_CACHE_SIZE", "lots", "KMS_CRYPTOD_CACHE_SIZE must be an integer"),
            ("KMS_CRYPTOD_MAX_FRAME_LENGTH", "12", "--max-frame-length must be between"),
            ("KMS_CRYPTOD_REGIONS", "EU West", "--regions must be region names"),
            ("KMS_CRYPTOD_SOCKET", "", "--socket (or KMS_CRYPTOD_SOCKET) is required"),
        ] {
            var bad = environment
            bad[name] = value
            let result = try await runChildProcess(
                URL(fileURLWithPath: binaryPath("kms-cryptod", environment: "KMS_CRYPTOD")), ["serve"],
                environment: bad, mergeStandardError: true)
            #expect(result.status != 0 && result.stdoutText.contains(says), "\(name)=\(value): \(result.stdoutText)")
        }
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
