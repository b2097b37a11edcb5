import Foundation
import KMSClient
import KMSProto

/// A real kmsd process on a free loopback port, talking to a test database and a worker.
public final class KMSDProcess: @unchecked Sendable {
    public let databaseURL: String
    public let workerSocket: String
    public let directory: URL
    public private(set) var endpoint = ""
    /// host:port of the AWS JSON endpoint, when kmsd serves it (--aws-json-listen).
    public private(set) var awsJSONEndpoint: String?
    public private(set) var process: Process?
    /// How the last stop ended, for a second `stop` (a test that stopped kmsd itself).
    private var lastStop: ProcessStop?
    let extraArguments: [String]
    /// TLS settings for the clients this kmsd hands out (nil: plain TCP).
    public var tls: KMSClient.TLS?
    /// A command that runs kmsd for us (`NetworkNamespace.launcher`: inside a network
    /// namespace); it must exec kmsd, so that `crash` kills kmsd itself. Empty: kmsd directly.
    public var launcher: [String] = []

    public init(databaseURL: String, workerSocket: String, directory: URL, extraArguments: [String] = []) {
        self.databaseURL = databaseURL
        self.workerSocket = workerSocket
        self.directory = directory
        self.extraArguments = extraArguments
    }

    deinit {
        // Only a process still running: the pid of one that exited may already be another's.
        if let process = self.process, process.isRunning { process.terminate() }
    }

    /// `listen` and `awsJSONListen` (host:port) replace the free ports chosen by default (and an
    /// `--aws-json-listen` among the extra arguments).
    public func start(listen: String = "127.0.0.1:0", awsJSONListen: String? = nil) async throws {
        let readyFile = self.directory.appendingPathComponent("kmsd-\(UUID().uuidString.prefix(8)).ready").path
        let process = Process()
        let kmsd = binaryPath("kmsd", environment: "KMSD")
        process.executableURL = URL(fileURLWithPath: self.launcher.first ?? kmsd)
        var extra = self.extraArguments
        if let awsJSONListen, let index = extra.firstIndex(of: "--aws-json-listen"), index + 1 < extra.count {
            extra[index + 1] = awsJSONListen
        }
        // The suites assert outcomes, not times: with a hundred stacks on two shared cores a
        // request may take longer than production's 8 s deadline and would then fail
        // retryably, which is not what they test. Tests of the deadline set their own.
        if !extra.contains("--request-timeout-seconds") { extra += ["--request-timeout-seconds", "30"] }
        process.arguments =
            (self.launcher.isEmpty ? [] : Array(self.launcher.dropFirst()) + [kmsd])
            + [
                "serve", "--listen", listen, "--worker-socket", self.workerSocket,
                "--ready-file", readyFile, "--log-level", Self.logLevel,
                // Dozens of stacks run at once on one PostgreSQL; a test needs few connections.
                "--database-connections", "6",
            ] + extra
        var environment = ProcessInfo.processInfo.environment
        environment["KMSD_DATABASE_URL"] = self.databaseURL
        process.environment = environment
        let log = ChildLog(in: self.directory, name: "kmsd-\(UUID().uuidString.prefix(8)).log")
        try log.attach(to: process)
        try process.run()
        self.process = process
        self.lastStop = nil
        // Only a guard against a hang: a loaded machine may take many seconds to start a stack.
        let hang = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < hang {
            if let text = try? String(contentsOfFile: readyFile, encoding: .utf8), text.hasSuffix("\n") {
                let lines = text.split(separator: "\n").map(String.init)
                self.endpoint = lines[0]
                self.awsJSONEndpoint = lines.count > 1 ? lines[1] : nil
                return
            }
            guard process.isRunning else {
                throw WorkerTestError(
                    "kmsd exited with status \(process.terminationStatus); its output:\n\(log.tail())")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw WorkerTestError("kmsd did not start listening")
    }

    /// SIGKILL: a crash, with no chance to finish anything.
    public func crash() async {
        guard let process = self.process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        self.process = nil
    }

    /// Starts kmsd again on the ports it had (after `crash` or `stop`), so that clients holding
    /// its endpoints reconnect to it by themselves.
    public func restart() async throws {
        try await self.start(listen: self.endpoint, awsJSONListen: self.awsJSONEndpoint)
    }

    /// kmsd's log level in tests: warning, or KMS_TEST_KMSD_LOG_LEVEL (debug, to follow a stuck
    /// test's kmsd in its log file).
    static var logLevel: String { ProcessInfo.processInfo.environment["KMS_TEST_KMSD_LOG_LEVEL"] ?? "warning" }

    /// Sends `number` (SIGTERM: a graceful shutdown) without waiting.
    public func signal(_ number: Int32) {
        guard let process = self.process, process.isRunning else { return }
        kill(process.processIdentifier, number)
    }

    /// Waits until the process exits, at most `limit`: its exit status, or nil if it still runs.
    public func waitForExit(within limit: Duration) async -> Int32? {
        guard let process = self.process else { return nil }
        return await waitForProcessExit(process, within: limit)
    }

    /// The running process's id, if one runs.
    public var pid: Int32? {
        guard let process = self.process, process.isRunning else { return nil }
        return process.processIdentifier
    }

    /// SIGTERM, then waits for the exit at most `limit`, past kmsd's own last deadline (its
    /// shutdown grace plus 20 s, after which it exits 1): then SIGKILL. A kmsd whose shutdown
    /// never ended would otherwise hold its test silent until the stage's watchdog.
    /// Stopping again gives the first stop's outcome.
    @discardableResult
    public func stop(within limit: Duration = .seconds(90)) async -> ProcessStop {
        guard let process = self.process else { return self.lastStop ?? .notRunning }
        let outcome: ProcessStop
        if !process.isRunning {
            outcome = ProcessStop(process)
        } else {
            process.terminate()
            if await waitForProcessExit(process, within: limit) != nil {
                outcome = ProcessStop(process)
            } else {
                kill(process.processIdentifier, SIGKILL)
                while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
                outcome = .killed(after: limit)
            }
        }
        self.process = nil
        self.lastStop = outcome
        return outcome
    }

    /// A client with `credentials` (nil: none, for handshake tests and insecure mode).
    public func client(credentials: KMSCredentials?, _ configure: (inout KMSClient.Configuration) -> Void = { _ in })
        throws -> KMSClient
    {
        var configuration = KMSClient.Configuration()
        configuration.timeout = .seconds(20)
        configuration.credentials = credentials
        configuration.tls = self.tls
        configure(&configuration)
        return try KMSClient(endpoint: self.endpoint, configuration: configuration)
    }

    /// `kmsd bootstrap` on this kmsd's database and worker: the first admin's credentials.
    /// Run off the cooperative pool (`runChildProcess`): a test blocking one of its two threads
    /// for a bootstrap's migrations stalls every other test's tasks meanwhile.
    public static func bootstrap(databaseURL: String, workerSocket: String) async throws -> KMSCredentials {
        var environment = ProcessInfo.processInfo.environment
        environment["KMSD_DATABASE_URL"] = databaseURL
        let result = try await runChildProcess(
            URL(fileURLWithPath: binaryPath("kmsd", environment: "KMSD")),
            ["bootstrap", "--worker-socket", workerSocket],
            environment: environment
        )
        guard result.status == 0 else {
            throw WorkerTestError(
                "kmsd bootstrap exited with status \(result.status): \(result.stderrText.suffix(2000))")
        }
        let text = result.stdoutText
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let name = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            values[name] = value
        }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw WorkerTestError("kmsd bootstrap printed no credentials")
        }
        return KMSCredentials(accessKeyID: id, secretAccessKey: secret)
    }
}

/// PostgreSQL database + kms-cryptod + kmsd, all real, for one test.
public final class KMSStack: @unchecked Sendable {
    public let database: TestDatabase
    public let worker: WorkerProcess
    public let kmsd: KMSDProcess
    /// The bootstrap admin (arn:aws:iam::111122223333:user/admin, identity policy kms:*).
    public let adminCredentials: KMSCredentials
    /// A client acting as the admin.
    public let client: KMSClient

    /// `kmsdArguments` may make kmsd serve TLS; `tls` is then what its clients use.
    /// `workerEnvironment`: variables kms-cryptod gets besides the inherited ones (SOFTHSM2_CONF).
    public static func start(
        kmsdArguments: [String] = [], workerArguments: [String] = [], workerEnvironment: [String: String] = [:],
        tls: KMSClient.TLS? = nil
    ) async throws -> KMSStack {
        let database = try await TestDatabase.create()
        let worker = try await WorkerProcess()
        try await worker.start(extraArguments: workerArguments, childEnvironment: workerEnvironment)
        let admin = try await KMSDProcess.bootstrap(databaseURL: database.url, workerSocket: worker.socketPath)
        let kmsd = KMSDProcess(
            databaseURL: database.url, workerSocket: worker.socketPath, directory: worker.directory,
            extraArguments: kmsdArguments)
        kmsd.tls = tls
        try await kmsd.start()
        return KMSStack(
            database: database, worker: worker, kmsd: kmsd, adminCredentials: admin,
            client: try kmsd.client(credentials: admin))
    }

    init(
        database: TestDatabase, worker: WorkerProcess, kmsd: KMSDProcess, adminCredentials: KMSCredentials,
        client: KMSClient
    ) {
        self.database = database
        self.worker = worker
        self.kmsd = kmsd
        self.adminCredentials = adminCredentials
        self.client = client
    }

    /// The environment a child process (the kms CLI, kms-bench) needs to reach kmsd as the admin.
    public var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["KMS_ENDPOINT"] = self.kmsd.endpoint
        environment["AWS_ACCESS_KEY_ID"] = self.adminCredentials.accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = self.adminCredentials.secretAccessKey
        environment.removeValue(forKey: "AWS_PROFILE")
        return environment
    }

    /// A new principal (`type` user or role) in `account` (created when missing), with the
    /// given identity policies and an access key; returns its ARN and a client acting as it.
    public func principal(
        _ name: String, type: String = "user", account: String = "111122223333", policies: [String: String] = [:]
    ) async throws -> (arn: String, client: KMSClient) {
        if account != "111122223333" {
            var create = AdminCreateAccountRequest()
            create.accountID = account
            create.name = "account \(account)"
            do {
                _ = try await self.client.call(AdminMethod.createAccount, create)
            } catch let error {
                guard error.code == "AlreadyExistsException" else { throw error }
            }
        }
        var request = AdminCreatePrincipalRequest()
        request.accountID = account
        request.type = type
        request.name = name
        let arn = try await self.client.call(AdminMethod.createPrincipal, request).principal.arn
        for (policyName, document) in policies {
            var put = AdminPutPrincipalPolicyRequest()
            put.principalArn = arn
            put.policyName = policyName
            put.policyDocument = document
            _ = try await self.client.call(AdminMethod.putPrincipalPolicy, put)
        }
        var key = AdminCreateAccessKeyRequest()
        key.principalArn = arn
        let created = try await self.client.call(AdminMethod.createAccessKey, key)
        let credentials = KMSCredentials(
            accessKeyID: created.accessKey.accessKeyID, secretAccessKey: created.secretAccessKey)
        return (arn, try self.kmsd.client(credentials: credentials))
    }

    /// A second kmsd on the same database and worker.
    public func secondKMSD(arguments: [String] = []) async throws -> KMSDProcess {
        let other = KMSDProcess(
            databaseURL: self.database.url, workerSocket: self.worker.socketPath, directory: self.worker.directory,
            extraArguments: arguments)
        try await other.start()
        return other
    }

    /// Stops every part; how kmsd's stop ended.
    @discardableResult
    public func stop() async -> ProcessStop {
        await self.client.close()
        let kmsd = await self.kmsd.stop()
        await self.worker.stop()
        await self.database.drop()
        return kmsd
    }
}
