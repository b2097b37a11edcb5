import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// kms-agent, the workload sidecar: an AWS SDK and the aws CLI through it unchanged, its caches
/// within their bounds and failing closed while kmsd is away, its memory bounded (issue 19).
@Suite struct KMSAgentTests {
    /// A stack, a key the agent's principal may use and one it may not, and a running agent.
    final class Fixture: @unchecked Sendable {
        let stack: KMSStack
        let key: KMSKeyMetadata
        let other: KMSKeyMetadata
        let agent: Process
        let directory: URL
        let port: Int
        let healthPort: Int

        var client: AWSJSONTestClient {
            AWSJSONTestClient(
                endpoint: "127.0.0.1:\(self.port)",
                credentials: KMSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "made-up"))
        }

        init(agentArguments: [String] = []) async throws {
            let stack = try await KMSStack.start()
            let admin = stack.client
            let key = try await admin.createKey("app key")
            self.stack = stack
            self.key = key
            self.other = try await admin.createKey("not the app's")
            let principal = try await admin.createPrincipal(
                "orders-pod",
                policy: """
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt",
                      "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": "\(key.arn)"}]}
                    """)
            let access = try await admin.call(AdminMethod.createAccessKey, .with { $0.principalArn = principal })
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "agent-\(UUID().uuidString.prefix(8))")
            self.directory = directory
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let credentials = directory.appendingPathComponent("credentials").path
            try KMSv2PluginTests.writeCredentials(access, to: credentials)
            let port = try await freeLoopbackPort()
            let healthPort = try await freeLoopbackPort()
            self.port = port
            self.healthPort = healthPort
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binaryPath("kms-agent", environment: "KMS_AGENT"))
            process.arguments =
                [
                    "--listen", "127.0.0.1:\(port)", "--endpoint", stack.kmsd.endpoint,
                    "--credentials-file", credentials, "--health-listen", "127.0.0.1:\(healthPort)",
                    "--timeout-ms", "1500", "--log-level", "warning",
                ] + agentArguments
            try process.run()
            self.agent = process
            let ready = await pollHTTP("/readyz", port: healthPort) { status, _ in status == 200 }
            #expect(ready.status == 200, "kms-agent ready: \(ready)")
        }

        /// A metric's value from the agent's /metrics.
        func metric(_ line: String) async throws -> Int {
            let text = try await httpGet("/metrics", port: self.healthPort).body
            let found = text.split(separator: "\n").first { $0.hasPrefix(line + " ") }
            return found.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
        }

        /// Ciphertexts of `count` distinct plaintexts under the app's key, made directly at kmsd.
        func ciphertexts(_ count: Int, context: [String: String] = ["app": "orders"]) async throws -> [Data] {
            var blobs: [Data] = []
            for n in 0..<count {
                blobs.append(
                    try await self.stack.client.encrypt(self.key.keyID, Array("secret \(n)".utf8), context: context))
            }
            return blobs
        }

        func decrypt(_ blob: Data, context: [String: String] = ["app": "orders"]) async throws -> AWSJSONReply {
            let body = try JSONSerialization.data(withJSONObject: [
                "CiphertextBlob": blob.base64EncodedString(), "EncryptionContext": context,
            ])
            return try await self.client.call("Decrypt", body: body)
        }

        func generateDataKey(context: [String: String] = ["app": "orders"], declaring bytes: Int? = nil)
            async throws -> String?
        {
            let body = try JSONSerialization.data(withJSONObject: [
                "KeyId": self.key.keyID, "KeySpec": "AES_256", "EncryptionContext": context,
            ])
            let reply = try await self.client.call(
                "GenerateDataKey", body: body,
                headers: bytes.map { [(name: "x-kms-agent-plaintext-bytes", value: "\($0)")] } ?? [])
            #expect(reply.status == 200, "\(reply.code ?? "") \(reply.message)")
            return reply.object?["Plaintext"] as? String
        }

        func stop() async {
            if self.agent.isRunning { self.agent.terminate() }
            _ = await waitForProcessExit(self.agent, within: .seconds(30))
            try? FileManager.default.removeItem(at: self.directory)
            await self.stack.stop()
        }
    }

    @Test func boto3AndTheAWSCLIWorkThroughItUnchanged() async throws {
        let fixture = try await Fixture()
        var environment = ProcessInfo.processInfo.environment
        for name in ["AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"] {
            environment.removeValue(forKey: name)
        }
        environment["AWS_CONFIG_FILE"] = "/dev/null"
        environment["KMS_AGENT_URL"] = "http://127.0.0.1:\(fixture.port)"
        environment["KMS_AGENT_KEY_ID"] = fixture.key.keyID
        environment["KMS_AGENT_OTHER_KEY_ID"] = fixture.other.keyID
        let run = try await AWSClientTests.run("agent_suite.py", environment)
        #expect(run.status == 0, "\(run.output)")
        // Without a cache, everything was forwarded.
        #expect(try await fixture.metric("kms_agent_cache_hits_total{cache=\"decrypt\"}") == 0)
        #expect(try await fixture.metric("kms_agent_forwarded_total") > 5)
        await fixture.stop()
    }

    /// Decrypt answers are reused within their age and count, never past them, and while kmsd is
    /// away only what the bounds allow is served.
    @Test func theDecryptCacheKeepsItsBoundsAndFailsClosed() async throws {
        let fixture = try await Fixture(agentArguments: [
            "--decrypt-cache-seconds", "3", "--decrypt-cache-entries", "3",
        ])
        let blobs = try await fixture.ciphertexts(4)
        for _ in 0..<2 { #expect(try await fixture.decrypt(blobs[0]).status == 200) }
        #expect(try await fixture.metric("kms_agent_cache_hits_total{cache=\"decrypt\"}") == 1)
        #expect(try await fixture.metric("kms_agent_cache_misses_total{cache=\"decrypt\"}") == 1)
        // Another context is another entry, and the wrong one still fails.
        #expect(try await fixture.decrypt(blobs[0], context: ["app": "other"]).code == "InvalidCiphertextException")
        for blob in blobs.dropFirst() { #expect(try await fixture.decrypt(blob).status == 200) }
        #expect(try await fixture.metric("kms_agent_cache_entries{cache=\"decrypt\"}") == 3)

        await fixture.stack.kmsd.stop()
        let cached = try await fixture.decrypt(blobs[3])
        #expect(cached.status == 200, "a cached answer within its age: \(cached.message)")
        let evicted = try await fixture.decrypt(blobs[0])
        #expect(evicted.status == 503 && evicted.code == "DependencyTimeoutException", "\(evicted.message)")
        try await Task.sleep(for: .seconds(3.5))
        let expired = try await fixture.decrypt(blobs[3])
        #expect(expired.status == 503, "past its age it is not served: \(expired.code ?? "")")
        try await fixture.stack.kmsd.restart()
        let back = await pollHTTP("/readyz", port: fixture.healthPort) { status, _ in status == 200 }
        #expect(back.status == 200)
        #expect(try await fixture.decrypt(blobs[3]).status == 200)
        await fixture.stop()
    }

    /// A data key is handed out again within its age, messages and declared bytes, per request
    /// (key, context); a caller that declares nothing gets a fresh key when bytes are bounded.
    @Test func dataKeysAreReusedWithinMessagesAndBytes() async throws {
        let fixture = try await Fixture(agentArguments: [
            "--data-key-cache-seconds", "60", "--data-key-max-messages", "3", "--data-key-max-bytes", "1000",
        ])
        var keys: [String?] = []
        for _ in 0..<4 { keys.append(try await fixture.generateDataKey(declaring: 100)) }
        #expect(keys[0] != nil && keys[0] == keys[1] && keys[1] == keys[2], "three messages under one data key")
        #expect(keys[3] != keys[0], "the fourth gets a new one")
        // The new key has protected 100 bytes: 900 more fit, then one byte does not.
        #expect(try await fixture.generateDataKey(declaring: 900) == keys[3])
        let overBytes = try await fixture.generateDataKey(declaring: 1)
        #expect(overBytes != keys[3], "past 1000 bytes a new key")
        // Undeclared sizes, another context: fresh keys each.
        let undeclared = [try await fixture.generateDataKey(), try await fixture.generateDataKey()]
        #expect(undeclared[0] != undeclared[1] && !keys.contains(undeclared[0]))
        #expect(try await fixture.generateDataKey(context: ["app": "billing"], declaring: 1) != overBytes)
        #expect(try await fixture.metric("kms_agent_cache_hits_total{cache=\"data_key\"}") == 3)
        await fixture.stop()
    }

    /// Many more distinct ciphertexts than the cache holds: it keeps its maximum, and the agent's resident
    /// memory does not grow with the load.
    @Test func memoryStaysBoundedUnderDistinctCiphertexts() async throws {
        let fixture = try await Fixture(agentArguments: [
            "--decrypt-cache-seconds", "600", "--decrypt-cache-entries", "50",
        ])
        let blobs = try await fixture.ciphertexts(100)
        func pass() async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<4 {
                    group.addTask { () async throws -> Void in
                        for blob in blobs.enumerated() where blob.offset % 4 == lane {
                            let status = try await fixture.decrypt(blob.element).status
                            #expect(status == 200)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await pass()
        let after100 = try Self.residentKiB(fixture.agent.processIdentifier)
        for _ in 0..<4 { try await pass() }
        let after500 = try Self.residentKiB(fixture.agent.processIdentifier)
        #expect(try await fixture.metric("kms_agent_cache_entries{cache=\"decrypt\"}") == 50)
        // 400 more answers of about 100 bytes each would be 40 KiB if kept; allocator noise aside,
        // resident memory must not grow by more than a few MiB.
        #expect(after500 - after100 < 16 * 1024, "resident \(after100) KiB, then \(after500) KiB")
        print("kms-agent resident memory: \(after100) KiB after 100 decrypts, \(after500) KiB after 500")
        await fixture.stop()
    }

    /// Upstream, the agent is the pod's SPIFFE identity (mutual TLS, no access key); when SPIRE
    /// or cert-manager rewrites the certificate files, new connections present the new one.
    @Test func aSPIFFECertificateIsItsIdentityAndItsRotationIsPickedUp() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "agent-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await TLSTests.makeCertificates(
            in: directory,
            clients: [
                "payments": "spiffe://cluster.local/ns/payments/sa/api",
                "orders": "spiffe://cluster.local/ns/orders/sa/app",
            ])
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let stack = try await KMSStack.start(
            kmsdArguments: [
                "--tls-certificate", path("server.pem"), "--tls-key", path("server.key"), "--tls-client-ca",
                path("ca.pem"), "--certificate-principal",
                "spiffe://cluster.local/ns/payments/*=arn:aws:iam::111122223333:role/payments-api",
                "--certificate-principal",
                "spiffe://cluster.local/ns/orders/*=arn:aws:iam::111122223333:role/orders-app",
            ], tls: KMSClient.TLS(caBundlePath: path("ca.pem")))
        let key = try await stack.client.createKey("shared")
        let policy = """
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt",
              "Resource": "\(key.arn)"}]}
            """
        for role in ["payments-api", "orders-app"] { _ = try await stack.client.createPrincipal(role, policy: policy) }
        // The SVID files as SPIRE's helper writes them, each replaced whole.
        func install(_ name: String) throws {
            for (from, to) in [("\(name).key", "svid.key"), ("\(name).pem", "svid.pem")] {
                try? FileManager.default.removeItem(atPath: path(to + ".new"))
                try FileManager.default.copyItem(atPath: path(from), toPath: path(to + ".new"))
                guard rename(path(to + ".new"), path(to)) == 0 else { throw WorkerTestError("rename: \(errno)") }
            }
        }
        try install("payments")
        let port = try await freeLoopbackPort()
        let healthPort = try await freeLoopbackPort()
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: binaryPath("kms-agent", environment: "KMS_AGENT"))
        agent.arguments = [
            "--listen", "127.0.0.1:\(port)", "--endpoint", "tls://\(stack.kmsd.endpoint)", "--ca-bundle",
            path("ca.pem"), "--client-certificate", path("svid.pem"), "--client-key", path("svid.key"),
            "--health-listen", "127.0.0.1:\(healthPort)", "--log-level", "warning",
        ]
        try agent.run()
        defer { if agent.isRunning { agent.terminate() } }
        #expect(await pollHTTP("/readyz", port: healthPort) { status, _ in status == 200 }.status == 200)
        let client = AWSJSONTestClient(endpoint: "127.0.0.1:\(port)", credentials: nil)
        let body = try JSONSerialization.data(withJSONObject: ["KeyId": key.keyID, "Plaintext": "aGk="])
        #expect(try await client.call("Encrypt", body: body).status == 200)

        try install("orders")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await client.call("Encrypt", body: body).status == 200)
        let principals = try await stack.client.auditRecords { $0.operation = "Encrypt" }
            .filter(\.errorCode.isEmpty).map(\.principalArn)
        #expect(principals.contains("arn:aws:iam::111122223333:role/payments-api"))
        #expect(principals.contains("arn:aws:iam::111122223333:role/orders-app"), "after the rotation: \(principals)")
        agent.terminate()
        await stack.stop()
    }

    static func residentKiB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
}
