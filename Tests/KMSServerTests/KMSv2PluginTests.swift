import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// kms-k8s-plugin as kube-apiserver uses it, through a conformance client in Python
/// (Tests/kubernetes/kmsv2_conformance.py, stubs generated from proto/k8s at test time): from
/// its first Status through a key rotation, a credentials rotation, a kmsd outage and the
/// recovery, with every bad input refused cleanly (issue 19).
@Suite struct KMSv2PluginTests {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let script = tests.appendingPathComponent("kubernetes/kmsv2_conformance.py").path
    static let protoRoot = tests.deletingLastPathComponent().appendingPathComponent("proto").path
    static let context = ["kubernetes-cluster": "test-cluster", "purpose": "dek-seed"]

    @Test func whatTheAPIServerDoesFromStartThroughRotationAndOutage() async throws {
        let stack = try await KMSStack.start()
        let admin = stack.client
        let key = try await admin.createKey("kubernetes secrets")
        _ = try await admin.call(
            KMSMethod.createAlias,
            .with {
                $0.aliasName = "alias/k8s-secrets"
                $0.targetKeyID = key.keyID
            })
        // A seed of the same cluster under another key: the plugin must not decrypt it as ours.
        let other = try await admin.createKey("another key")
        let otherCiphertext = try await admin.call(
            KMSMethod.encrypt,
            .with {
                $0.keyID = other.keyID
                $0.plaintext = Data(repeating: 7, count: 32)
                $0.encryptionContext = Self.context
            }
        ).ciphertextBlob

        // The plugin's principal may use its key and nothing else.
        let principal = try await admin.createPrincipal(
            "kms-k8s-plugin",
            policy: """
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                  "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "\(key.arn)"}]}
                """)
        let firstKey = try await admin.call(AdminMethod.createAccessKey, .with { $0.principalArn = principal })

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "k8s-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let credentials = directory.appendingPathComponent("credentials").path
        try Self.writeCredentials(firstKey, to: credentials)
        let socket = directory.appendingPathComponent("plugin.sock").path
        let healthPort = try await freeLoopbackPort()
        let plugin = try Self.startPlugin([
            "--socket", socket, "--endpoint", stack.kmsd.endpoint, "--key-id", "alias/k8s-secrets",
            "--cluster-name", "test-cluster", "--credentials-file", credentials, "--status-cache-seconds", "1",
            "--timeout-ms", "1500", "--health-listen", "127.0.0.1:\(healthPort)", "--log-level", "warning",
        ])
        defer { if plugin.isRunning { plugin.terminate() } }
        let ready = await pollHTTP("/readyz", port: healthPort) { status, _ in status == 200 }
        #expect(ready.status == 200, "the plugin's end-to-end check: \(ready)")

        var environment = ProcessInfo.processInfo.environment
        environment["KMS_PLUGIN_SOCKET"] = socket
        environment["KMS_PROTO_ROOT"] = Self.protoRoot
        environment["KMS_STUB_DIR"] = directory.appendingPathComponent("stubs").path
        environment["KMS_STATE_FILE"] = directory.appendingPathComponent("state.json").path
        environment["KMS_OTHER_CIPHERTEXT"] = otherCiphertext.base64EncodedString()
        environment["KMS_OTHER_KEY_ARN"] = other.arn
        try FileManager.default.createDirectory(
            atPath: environment["KMS_STUB_DIR"]!, withIntermediateDirectories: true)

        try await Self.phase("start", environment)

        _ = try await admin.call(KMSMethod.rotateKeyOnDemand, .with { $0.keyID = key.keyID })
        try await Self.phase("rotated", environment)

        // The access key rotates: a new one in the file (as a Secret update swaps it), the old one
        // deleted. After the outage below every connection is new, so the recovery proves the
        // plugin re-read the file.
        let secondKey = try await admin.call(AdminMethod.createAccessKey, .with { $0.principalArn = principal })
        try Self.writeCredentials(secondKey, to: credentials)
        _ = try await admin.call(
            AdminMethod.deleteAccessKey, .with { $0.accessKeyID = firstKey.accessKey.accessKeyID })

        await stack.kmsd.stop()
        try await Self.phase("down", environment)
        let unready = await pollHTTP("/readyz", port: healthPort) { status, _ in status == 503 }
        #expect(unready.status == 503 && unready.body.contains("kmsd"), "\(unready)")
        #expect(plugin.isRunning)

        try await stack.kmsd.restart()
        try await Self.phase("recovered", environment)

        // Its calls after the rotation of the access key were made with the new one.
        let records = try await admin.auditRecords { $0.principalArn = principal }
        let lastEncrypt = records.filter { $0.operation == "Encrypt" && $0.errorCode.isEmpty }.max {
            ($0.eventTime.seconds, $0.eventTime.nanos) < ($1.eventTime.seconds, $1.eventTime.nanos)
        }
        #expect(lastEncrypt?.accessKeyID == secondKey.accessKey.accessKeyID)

        plugin.terminate()
        #expect(await waitForProcessExit(plugin, within: .seconds(30)) == 0)
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket is removed at exit")
        await stack.stop()
    }

    /// Flags a kube-apiserver operator gets wrong are refused before anything starts.
    @Test func badSettingsAreRefusedByName() async throws {
        let cases: [([String], String)] = [
            (["--key-id", "k", "--cluster-name", "c", "--credentials-file", "/x"], "--socket is required"),
            (["--socket", "/tmp/s", "--cluster-name", "c", "--credentials-file", "/x"], "--key-id is required"),
            (["--socket", "/tmp/s", "--key-id", "k", "--cluster-name", "c"], "--credentials-file"),
            (
                [
                    "--socket", "/tmp/s", "--key-id", "k", "--cluster-name", "c", "--credentials-file", "/x",
                    "--annotation-domain", "Not A Domain",
                ], "--annotation-domain"
            ),
            (
                [
                    "--socket", "/tmp/s", "--key-id", "k", "--cluster-name", "c", "--credentials-file", "/x",
                    "--timeout-ms", "10",
                ], "--timeout-ms"
            ),
            (
                [
                    "--socket", "/tmp/s", "--key-id", "k", "--cluster-name", "c", "--credentials-file", "/x",
                    "--decrypt-key-arn", "alias/old",
                ], "--decrypt-key-arn"
            ),
        ]
        for (arguments, says) in cases {
            let result = try await runChildProcess(
                URL(fileURLWithPath: binaryPath("kms-k8s-plugin", environment: "KMS_K8S_PLUGIN")), arguments,
                environment: ["PATH": "/usr/bin:/bin"], mergeStandardError: true)
            #expect(result.status != 0 && result.stdoutText.contains(says), "\(arguments): \(result.stdoutText)")
        }
    }

    /// The socket's mode and group as given (0660 and a group: a non-root apiserver in that
    /// group connects), 0600 by default, never anything for other users.
    @Test func theSocketModeAndGroup() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "k8s-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let credentials = directory.appendingPathComponent("credentials").path
        try "[default]\naws_access_key_id = AKIAEXAMPLEEXAMPLE00\naws_secret_access_key = x\n".write(
            toFile: credentials, atomically: true, encoding: .utf8)
        for (arguments, mode) in [
            ([String](), 0o600), (["--socket-mode", "0660", "--socket-group", "\(getgid())"], 0o660),
        ] {
            let socket = directory.appendingPathComponent("p-\(mode).sock").path
            let plugin = try Self.startPlugin(
                [
                    "--socket", socket, "--endpoint", "127.0.0.1:1", "--key-id", "alias/k", "--cluster-name", "c",
                    "--credentials-file", credentials, "--log-level", "error",
                ] + arguments)
            var info = stat()
            let until = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < until {
                if lstat(socket, &info) == 0, info.st_mode & 0o777 == mode_t(mode) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(
                lstat(socket, &info) == 0 && info.st_mode & 0o777 == mode_t(mode),
                "mode \(String(info.st_mode & 0o777, radix: 8))")
            #expect(info.st_gid == getgid())
            plugin.terminate()
            #expect(await waitForProcessExit(plugin, within: .seconds(30)) == 0)
        }
        let refused = try await runChildProcess(
            URL(fileURLWithPath: binaryPath("kms-k8s-plugin", environment: "KMS_K8S_PLUGIN")),
            [
                "--socket", "/tmp/s", "--key-id", "k", "--cluster-name", "c", "--credentials-file", credentials,
                "--socket-mode", "0666",
            ], mergeStandardError: true)
        #expect(refused.status != 0 && refused.stdoutText.contains("--socket-mode"), "\(refused.stdoutText)")
    }

    static func phase(_ name: String, _ environment: [String: String]) async throws {
        let run = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", Self.script, name], environment: environment,
            mergeStandardError: true)
        #expect(run.status == 0, "phase \(name): \(run.stdoutText)")
    }

    /// An AWS shared credentials file, replaced whole (a rename), as a Secret volume update does.
    static func writeCredentials(_ key: AdminCreateAccessKeyResponse, to path: String) throws {
        let text = """
            [default]
            aws_access_key_id = \(key.accessKey.accessKeyID)
            aws_secret_access_key = \(key.secretAccessKey)

            """
        let temporary = path + ".new"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: temporary)
        guard rename(temporary, path) == 0 else { throw WorkerTestError("rename failed: \(errno)") }
    }

    static func startPlugin(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath("kms-k8s-plugin", environment: "KMS_K8S_PLUGIN"))
        process.arguments = arguments
        try process.run()
        return process
    }
}
