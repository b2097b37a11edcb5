import Foundation
import KMSTestSupport
import Testing

/// kms-bench keeps working: short runs against a real stack. Figures are never asserted.
@Suite struct BenchTests {
    static func bench(_ arguments: [String], env: [String: String]? = nil) async throws -> (status: Int32, json: [String: Any]?, stderr: String) {
        let run = try await runChildProcess(URL(fileURLWithPath: binaryPath("kms-bench", environment: "KMS_BENCH")), arguments, environment: env)
        let json = try? JSONSerialization.jsonObject(with: run.stdout) as? [String: Any]
        return (run.status, json, run.stderrText)
    }

    @Test func closedAndOpenLoopRunsReport() async throws {
        let stack = try await KMSStack.start()
        let endpoint = stack.kmsd.endpoint
        let closed = try await Self.bench([
            "run", "--endpoint", endpoint, "--duration", "1", "--warmup", "0.2", "--json", "--no-progress",
            "--connections", "2", "--in-flight", "4", "--keys", "2", "--by", "alias", "--context", "app=bench",
            "--mix", "GenerateDataKey:1,Decrypt:1,Encrypt:1,ReEncrypt:1,GenerateRandom:1,GenerateDataKeyWithoutPlaintext:1",
        ], env: stack.environment)
        #expect(closed.status == 0, "\(closed.stderr)")
        let report = try #require(closed.json)
        #expect((report["requests"] as? Int ?? 0) > 0)
        #expect(report["failed"] as? Int == 0)
        let latency = try #require(report["latencyMs"] as? [String: Double])
        #expect(Set(latency.keys) == ["p50", "p90", "p99", "p99.9", "max"])
        #expect(latency["p50"]! <= latency["max"]!)

        let open = try await Self.bench([
            "run", "--endpoint", endpoint, "--rate", "200", "--requests", "100", "--warmup", "0", "--json", "--no-progress", "--mix", "Encrypt",
        ], env: stack.environment)
        #expect(open.status == 0, "\(open.stderr)")
        #expect(open.json?["requests"] as? Int == 100)
        #expect(open.json?["rate"] as? Double == 200)
        await stack.stop()
    }

    @Test func signVerifyAndMacWorkloads() async throws {
        let stack = try await KMSStack.start()
        let endpoint = stack.kmsd.endpoint
        let ecc = try await Self.bench([
            "run", "--endpoint", endpoint, "--requests", "80", "--warmup", "0", "--json", "--no-progress",
            "--connections", "2", "--in-flight", "2", "--keys", "2", "--by", "alias",
            "--mix", "Sign:1,Verify:1,GenerateMac:1,VerifyMac:1",
        ], env: stack.environment)
        #expect(ecc.status == 0, "\(ecc.stderr)")
        #expect(ecc.json?["requests"] as? Int == 80)
        #expect(ecc.json?["failed"] as? Int == 0)
        // Two signing keys and two HMAC keys; no symmetric key, as the mix needs none.
        #expect(ecc.json?["keys"] as? Int == 4)

        let rsa = try await Self.bench([
            "run", "--endpoint", endpoint, "--requests", "10", "--warmup", "0", "--json", "--no-progress",
            "--mix", "Sign:1,Verify:1", "--signing-key-spec", "RSA_2048",
        ], env: stack.environment)
        #expect(rsa.status == 0, "\(rsa.stderr)")
        #expect(rsa.json?["failed"] as? Int == 0)

        let wrongSpec = try await Self.bench(["run", "--endpoint", endpoint, "--mix", "Sign", "--signing-key-spec", "HMAC_256"], env: stack.environment)
        #expect(wrongSpec.status != 0 && wrongSpec.stderr.contains("--signing-key-spec"), "\(wrongSpec.stderr)")
        await stack.stop()
    }

    @Test func exitsNonZeroAboveTheErrorThreshold() async throws {
        let stack = try await KMSStack.start()
        let key = try await stack.client.createKey()
        try await stack.client.setEnabled(key.keyID, false)
        let failing = try await Self.bench([
            "run", "--endpoint", stack.kmsd.endpoint, "--key-id", key.keyID, "--requests", "20", "--warmup", "0",
            "--json", "--no-progress", "--mix", "GenerateRandom:1,Encrypt:1",
        ], env: stack.environment)
        // Setup generates a data key under the disabled key, so the run cannot even start.
        #expect(failing.status != 0)
        #expect(failing.stderr.contains("DisabledException"))
        await stack.stop()
    }

    /// The line a process wrote to `path` once listening (waiting for it; no guess at how long).
    static func readyLine(_ path: String, of process: Process) async throws -> String {
        while true {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") {
                return text.trimmingCharacters(in: .newlines)
            }
            guard process.isRunning else { throw WorkerTestError("\(process.arguments?.first ?? "") exited with \(process.terminationStatus)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func theCeilingPairServesEcho() async throws {
        let worker = try await WorkerProcess()
        let socket = worker.directory.appendingPathComponent("ceiling.sock").path
        let workerProcess = Process()
        workerProcess.executableURL = URL(fileURLWithPath: binaryPath("kms-bench", environment: "KMS_BENCH"))
        workerProcess.arguments = ["ceiling-worker", "--socket", socket, "--ready-file", socket + ".ready"]
        try workerProcess.run()
        defer { if workerProcess.isRunning { workerProcess.terminate() } }
        _ = try await Self.readyLine(socket + ".ready", of: workerProcess)
        let front = Process()
        front.executableURL = workerProcess.executableURL
        let frontReady = worker.directory.appendingPathComponent("front.ready").path
        front.arguments = ["ceiling-front", "--listen", "127.0.0.1:0", "--worker-socket", socket, "--ready-file", frontReady]
        try front.run()
        defer { if front.isRunning { front.terminate() } }
        let endpoint = try await Self.readyLine(frontReady, of: front)
        let run = try await Self.bench(["run", "--endpoint", endpoint, "--ceiling", "--requests", "200", "--warmup", "0", "--json", "--no-progress"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.json?["requests"] as? Int == 200)
        #expect(run.json?["failed"] as? Int == 0)
    }
}
