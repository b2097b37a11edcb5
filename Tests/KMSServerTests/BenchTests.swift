import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// kms-bench keeps working: short runs against a real stack. Figures are never asserted.
@Suite struct BenchTests {
    static func bench(_ arguments: [String], env: [String: String]? = nil) async throws -> (
        status: Int32, json: [String: Any]?, stderr: String
    ) {
        let run = try await runChildProcess(
            URL(fileURLWithPath: binaryPath("kms-bench", environment: "KMS_BENCH")), arguments, environment: env)
        let json = try? JSONSerialization.jsonObject(with: run.stdout) as? [String: Any]
        return (run.status, json, run.stderrText)
    }

    @Test func closedAndOpenLoopRunsReport() async throws {
        let stack = try await KMSStack.start()
        let endpoint = stack.kmsd.endpoint
        let kmsdPID = try #require(stack.kmsd.pid)
        let closed = try await Self.bench(
            [
                "run", "--endpoint", endpoint, "--duration", "1", "--warmup", "0.2", "--json", "--no-progress",
                "--connections", "2", "--in-flight", "4", "--keys", "2", "--by", "alias", "--context", "app=bench",
                "--mix",
                "GenerateDataKey:1,Decrypt:1,Encrypt:1,ReEncrypt:1,GenerateRandom:1,GenerateDataKeyWithoutPlaintext:1,"
                    + "CreateKey:1",
                // A process that is not there is left out of the report, not an error.
                "--cpu-of", "kmsd=\(kmsdPID)", "--cpu-of", "gone=\(Int32.max)",
            ], env: stack.environment)
        #expect(closed.status == 0, "\(closed.stderr)")
        let report = try #require(closed.json)
        #expect((report["requests"] as? Int ?? 0) > 0)
        #expect(report["failed"] as? Int == 0)
        let latency = try #require(report["latencyMs"] as? [String: Double])
        #expect(Set(latency.keys) == ["p50", "p90", "p99", "p99.9", "max"])
        #expect(latency["p50"]! <= latency["max"]!)
        // The CPU a request costs kms-bench and the processes named, over the measured window.
        let cpu = try #require(report["cpuMicrosPerRequest"] as? [String: Double], "\(report)")
        #expect(Set(cpu.keys) == ["kms-bench", "kmsd"], "\(cpu)")
        #expect(cpu["kms-bench"]! > 0 && cpu["kmsd"]! >= 0, "\(cpu)")
        for refused in ["kmsd", "=\(kmsdPID)", "kmsd=0", "kmsd=x+"] {
            let run = try await Self.bench(
                ["run", "--endpoint", endpoint, "--cpu-of", refused], env: stack.environment)
            #expect(run.status != 0 && run.stderr.contains("--cpu-of"), "\(refused): \(run.stderr)")
        }

        let timeline = FileManager.default.temporaryDirectory.appendingPathComponent("timeline-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: timeline) }
        let open = try await Self.bench(
            [
                "run", "--endpoint", endpoint, "--rate", "200", "--requests", "100", "--warmup", "0", "--json",
                "--no-progress", "--mix", "Encrypt", "--timeline", timeline.path,
            ], env: stack.environment)
        #expect(open.status == 0, "\(open.stderr)")
        #expect(open.json?["requests"] as? Int == 100)
        #expect(open.json?["rate"] as? Double == 200)
        // The timeline accounts for every request, second by second, the partial last one included.
        let lines = try String(contentsOf: timeline, encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "second requests succeeded failed p50_ms p99_ms max_ms errors")
        let rows = lines.dropFirst().map { $0.split(separator: " ") }
        #expect(rows.allSatisfy { $0.count == 8 && $0[3] == "0" && $0[7] == "-" }, "\(lines)")
        #expect(rows.reduce(0) { $0 + (Int($1[1]) ?? 0) } == 100, "\(lines)")
        await stack.stop()
    }

    @Test func signVerifyAndMacWorkloads() async throws {
        let stack = try await KMSStack.start()
        let endpoint = stack.kmsd.endpoint
        let ecc = try await Self.bench(
            [
                "run", "--endpoint", endpoint, "--requests", "80", "--warmup", "0", "--json", "--no-progress",
                "--connections", "2", "--in-flight", "2", "--keys", "2", "--by", "alias",
                "--mix", "Sign:1,Verify:1,GenerateMac:1,VerifyMac:1",
            ], env: stack.environment)
        #expect(ecc.status == 0, "\(ecc.stderr)")
        #expect(ecc.json?["requests"] as? Int == 80)
        #expect(ecc.json?["failed"] as? Int == 0)
        // Two signing keys and two HMAC keys; no symmetric key, as the mix needs none.
        #expect(ecc.json?["keys"] as? Int == 4)

        let rsa = try await Self.bench(
            [
                "run", "--endpoint", endpoint, "--requests", "10", "--warmup", "0", "--json", "--no-progress",
                "--mix", "Sign:1,Verify:1", "--signing-key-spec", "RSA_2048",
            ], env: stack.environment)
        #expect(rsa.status == 0, "\(rsa.stderr)")
        #expect(rsa.json?["failed"] as? Int == 0)

        let wrongSpec = try await Self.bench(
            ["run", "--endpoint", endpoint, "--mix", "Sign", "--signing-key-spec", "HMAC_256"], env: stack.environment)
        #expect(wrongSpec.status != 0 && wrongSpec.stderr.contains("--signing-key-spec"), "\(wrongSpec.stderr)")
        await stack.stop()
    }

    /// --protocol aws-json signs each request with SigV4 and sends it over HTTP/1.1: kmsd's
    /// AWS JSON endpoint accepts every one (a signature it refused would count as a failure).
    @Test func theAWSJSONProtocolSignsAndSends() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        let aws = "http://\(try #require(stack.kmsd.awsJSONEndpoint))"
        let run = try await Self.bench(
            [
                "run", "--protocol", "aws-json", "--aws-endpoint", aws, "--requests", "120", "--warmup", "0", "--json",
                "--no-progress", "--connections", "2", "--in-flight", "3", "--keys", "2",
                "--mix",
                "GenerateDataKey:1,Decrypt:1,Encrypt:1,Sign:1,Verify:1,GenerateMac:1,GenerateRandom:1,CreateKey:1",
            ], env: stack.environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.json?["requests"] as? Int == 120)
        #expect(run.json?["failed"] as? Int == 0, "\(run.json ?? [:])")
        #expect(run.json?["transport"] as? String == "aws-json")

        let openLoop = try await Self.bench(
            ["run", "--protocol", "aws-json", "--aws-endpoint", aws, "--rate", "100"], env: stack.environment)
        #expect(openLoop.status != 0 && openLoop.stderr.contains("closed loop"), "\(openLoop.stderr)")
        await stack.stop()
    }

    @Test func exitsNonZeroAboveTheErrorThreshold() async throws {
        let stack = try await KMSStack.start()
        let key = try await stack.client.createKey()
        try await stack.client.setEnabled(key.keyID, false)
        let failing = try await Self.bench(
            [
                "run", "--endpoint", stack.kmsd.endpoint, "--key-id", key.keyID, "--requests", "20", "--warmup", "0",
                "--json", "--no-progress", "--mix", "GenerateRandom:1,Encrypt:1",
            ], env: stack.environment)
        // Setup generates a data key under the disabled key, so the run cannot even start.
        #expect(failing.status != 0)
        #expect(failing.stderr.contains("DisabledException"))
        await stack.stop()
    }

    /// The open loop sleeps between sends: it yielded in a loop instead whenever the next send
    /// was under 1 ms away, spinning at rates above 1000/s (on two cores, half the
    /// machine the service it measures runs on). The CPU kms-bench used, from the shell's
    /// `times`, against the run's length: over half a core before, about a fifth now (debug build).
    @Test func theOpenLoopDoesNotSpin() async throws {
        let stack = try await KMSStack.start()
        let run = try await runChildProcess(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c", "\"$0\" \"$@\"; times >&2", binaryPath("kms-bench", environment: "KMS_BENCH"),
                "run", "--endpoint", stack.kmsd.endpoint, "--rate", "1200", "--duration", "2", "--warmup", "0",
                "--json", "--no-progress",
                "--max-error-rate", "1", "--mix", "GenerateRandom",
            ], environment: stack.environment)
        #expect(run.status == 0, "\(run.stderrText)")
        let seconds = try #require(
            (try? JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])?["seconds"] as? Double)
        // `times` prints the shell's own user and system time, then its children's: "0m1.370s 0m0.210s".
        let children = try #require(run.stderrText.split(separator: "\n").last)
        let cpu = children.split(separator: " ").map { field -> Double in
            let parts = field.dropLast().split(separator: "m")
            return (Double(parts.first ?? "") ?? 0) * 60 + (Double(parts.last ?? "") ?? 0)
        }.reduce(0, +)
        #expect(cpu < seconds * 0.4, "kms-bench used \(cpu) s of CPU in a \(seconds) s open loop at 1200/s")
        await stack.stop()
    }

    /// --admin-rate with --admin-cycles: the cycles are done in full beside the load, and what
    /// the report counts is what the service holds afterwards.
    @Test func adminChurnLeavesWhatItReports() async throws {
        let stack = try await KMSStack.start()
        let run = try await Self.bench(
            [
                "run", "--endpoint", stack.kmsd.endpoint, "--rate", "100", "--requests", "50", "--warmup", "0",
                "--json", "--no-progress",
                "--keys", "2", "--by", "alias", "--mix", "Encrypt:1,Decrypt:1", "--admin-rate", "50", "--admin-cycles",
                "4",
            ], env: stack.environment)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(run.json)
        #expect(report["failed"] as? Int == 0)
        let admin = try #require(report["admin"] as? [String: Any])
        #expect(admin["failed"] as? Int == 0, "\(admin["firstFailures"] ?? "")")
        let operations = try #require(admin["operations"] as? [String: Int])
        // Four cycles of the churn key's life, the fourth deletion cancelled; a policy change
        // on a load key after each.
        #expect(
            operations == [
                "CreateKey": 4, "CreateAlias": 4, "GetKeyPolicy": 4, "PutKeyPolicy": 4, "RotateKeyOnDemand": 4,
                "CreateGrant": 4,
                "RetireGrant": 4, "DeleteAlias": 4, "ScheduleKeyDeletion": 4, "CancelKeyDeletion": 1,
                "GetKeyPolicy (load key)": 4, "PutKeyPolicy (load key)": 4,
            ])
        #expect(
            admin["keysCreated"] as? Int == 4 && admin["deletionsScheduled"] as? Int == 4
                && admin["deletionsCancelled"] as? Int == 1)
        // Each operation's latency, p50 no more than p99, both measured.
        let latencies = try #require(admin["latencyMs"] as? [String: [String: Double]])
        #expect(Set(latencies.keys) == Set(operations.keys))
        for (operation, latency) in latencies {
            let (p50, p99) = (latency["p50"] ?? 0, latency["p99"] ?? 0)
            #expect(p50 > 0 && p50 <= p99, "\(operation): \(latency)")
        }

        // What the service holds: the churn keys, three pending deletion and one disabled (a
        // cancelled deletion leaves the key disabled), each rotated once and with no grant left;
        // no churn alias; the load keys' policies relabelled and still serving.
        var states: [KMSKeyState] = []
        var loadPolicyIDs: [String] = []
        for entry in try await stack.client.call(KMSMethod.listKeys, KMSListKeysRequest()).keys {
            var describe = KMSDescribeKeyRequest()
            describe.keyID = entry.keyID
            let metadata = try await stack.client.call(KMSMethod.describeKey, describe).keyMetadata
            var policy = KMSGetKeyPolicyRequest()
            policy.keyID = entry.keyID
            let document = try await stack.client.call(KMSMethod.getKeyPolicy, policy).policy
            let id =
                (try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any])?["Id"] as? String ?? ""
            guard metadata.description_p.contains(" churn ") else {
                loadPolicyIDs.append(id)
                continue
            }
            states.append(metadata.keyState)
            #expect(id.hasPrefix("kms-bench-churn-"))
            var rotations = KMSListKeyRotationsRequest()
            rotations.keyID = entry.keyID
            #expect(try await stack.client.call(KMSMethod.listKeyRotations, rotations).rotations.count == 1)
            var grants = KMSListGrantsRequest()
            grants.keyID = entry.keyID
            #expect(try await stack.client.call(KMSMethod.listGrants, grants).grants.isEmpty)
        }
        #expect(
            states.sorted { $0.rawValue < $1.rawValue } == [
                .disabled, .pendingDeletion, .pendingDeletion, .pendingDeletion,
            ])
        #expect(
            loadPolicyIDs.count == 2 && loadPolicyIDs.allSatisfy { $0.hasPrefix("kms-bench-load-") }, "\(loadPolicyIDs)"
        )
        let aliases = try await stack.client.call(KMSMethod.listAliases, KMSListAliasesRequest()).aliases.map(
            \.aliasName)
        #expect(!aliases.contains { $0.contains("/churn/") }, "\(aliases)")
        #expect(aliases.filter { $0.hasPrefix("alias/kms-bench/") }.count == 2)

        let ceilingAdmin = try await Self.bench(["run", "--ceiling", "--admin-rate", "1"])
        #expect(ceilingAdmin.status != 0 && ceilingAdmin.stderr.contains("--admin-rate"), "\(ceilingAdmin.stderr)")
        await stack.stop()
    }

    /// The line a process wrote to `path` once listening (waiting for it; no guess at how long).
    static func readyLine(_ path: String, of process: Process) async throws -> String {
        while true {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") {
                return text.trimmingCharacters(in: .newlines)
            }
            guard process.isRunning else {
                throw WorkerTestError("\(process.arguments?.first ?? "") exited with \(process.terminationStatus)")
            }
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
        front.arguments = [
            "ceiling-front", "--listen", "127.0.0.1:0", "--worker-socket", socket, "--ready-file", frontReady,
        ]
        try front.run()
        defer { if front.isRunning { front.terminate() } }
        let endpoint = try await Self.readyLine(frontReady, of: front)
        let run = try await Self.bench([
            "run", "--endpoint", endpoint, "--ceiling", "--requests", "200", "--warmup", "0", "--json", "--no-progress",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.json?["requests"] as? Int == 200)
        #expect(run.json?["failed"] as? Int == 0)
    }
}
