import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import KMSXKSProxy

/// kms-xks-proxy itself as a child process in front of a fixture's kmsd: its configuration
/// file (mode 0600) in the fixture's directory, its log in a file a test may read.
final class XKSProxyProcess: @unchecked Sendable {
    let process: Process
    let port: Int
    let configPath: String
    let logPath: String
    /// The proxy principal's access key it calls kmsd with (a principal has at most two).
    let kmsdCredentials: KMSCredentials

    private init(process: Process, port: Int, configPath: String, logPath: String, kmsdCredentials: KMSCredentials) {
        self.process = process
        self.port = port
        self.configPath = configPath
        self.logPath = logPath
        self.kmsdCredentials = kmsdCredentials
    }

    /// Starts the binary on `configuration`, calling `fixture`'s kmsd with a new access key of
    /// the proxy's principal (or `kmsdCredentials`); it looks at its file every `pollSeconds`
    /// (0: on SIGHUP only).
    static func start(
        _ configuration: XKSProxyConfiguration, fixture: XKSProxyFixture, pollSeconds: Int = 0,
        kmsdCredentials: KMSCredentials? = nil
    ) async throws -> XKSProxyProcess {
        var credentials = kmsdCredentials
        if credentials == nil {
            var key = AdminCreateAccessKeyRequest()
            key.principalArn = fixture.proxyPrincipal
            let created = try await fixture.stack.client.call(AdminMethod.createAccessKey, key)
            credentials = KMSCredentials(
                accessKeyID: created.accessKey.accessKeyID, secretAccessKey: created.secretAccessKey)
        }
        guard let credentials else { throw WorkerTestError("no kmsd credentials") }
        let name = "proxy-\(UUID().uuidString.prefix(8))"
        let configPath = fixture.path("\(name).json")
        let logPath = fixture.path("\(name).log")
        let readyPath = fixture.path("\(name).ready")
        try Self.write(configuration, to: configPath)
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath("kms-xks-proxy", environment: "KMS_XKS_PROXY"))
        process.arguments = [
            "--config", configPath, "--listen", "127.0.0.1:0", "--kmsd-endpoint", fixture.stack.kmsd.endpoint,
            "--kmsd-timeout-ms", "20000", "--ready-file", readyPath, "--config-poll-seconds", "\(pollSeconds)",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = credentials.accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = credentials.secretAccessKey
        environment.removeValue(forKey: "AWS_PROFILE")
        environment.removeValue(forKey: "KMS_ENDPOINT")
        process.environment = environment
        // Both streams to the log, none inherited: a proxy left running must not hold swift test's output.
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let hang = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < hang {
            if let text = try? String(contentsOfFile: readyPath, encoding: .utf8), text.hasSuffix("\n"),
                let port = text.split(separator: ":").last.flatMap({
                    Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
                })
            {
                return XKSProxyProcess(
                    process: process, port: port, configPath: configPath, logPath: logPath,
                    kmsdCredentials: credentials)
            }
            guard process.isRunning else {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw WorkerTestError("kms-xks-proxy exited (\(process.terminationStatus)): \(log.suffix(1000))")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        process.terminate()
        throw WorkerTestError("kms-xks-proxy did not start listening")
    }

    /// Writes `configuration` where the proxy reads it: a new file renamed over the old, mode 0600.
    static func write(_ configuration: XKSProxyConfiguration, to path: String) throws {
        // Sorted: the same configuration is the same bytes (a dictionary's order is not fixed).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try Self.write(Array(try encoder.encode(configuration)), to: path)
    }

    /// Writes `bytes` as the configuration file, whatever they are.
    static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".new"
        FileManager.default.createFile(
            atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        guard rename(temporary, path) == 0 else { throw WorkerTestError("cannot rename \(temporary)") }
    }

    /// SIGHUP: the proxy reloads its configuration file.
    func hangUp() { kill(self.process.processIdentifier, SIGHUP) }

    /// What the proxy logged so far.
    var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log holds `text` `count` times, at most `limit` (a bound, not a pause).
    func waitForLog(_ text: String, count: Int = 1, within limit: Duration = .seconds(30)) async -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if self.log.components(separatedBy: text).count - 1 >= count { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    func stop() async {
        if self.process.isRunning { self.process.terminate() }
        _ = await waitForProcessExit(self.process, within: .seconds(30))
    }
}
