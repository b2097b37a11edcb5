import Foundation
import KMSClient

/// A real kmsd process on a free loopback port, talking to a test database and a worker.
public final class KMSDProcess: @unchecked Sendable {
    public let databaseURL: String
    public let workerSocket: String
    public let directory: URL
    public private(set) var endpoint = ""
    public private(set) var process: Process?
    let extraArguments: [String]

    public init(databaseURL: String, workerSocket: String, directory: URL, extraArguments: [String] = []) {
        self.databaseURL = databaseURL
        self.workerSocket = workerSocket
        self.directory = directory
        self.extraArguments = extraArguments
    }

    deinit {
        self.process?.terminate()
    }

    public func start() async throws {
        let readyFile = self.directory.appendingPathComponent("kmsd-\(UUID().uuidString.prefix(8)).ready").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath("kmsd", environment: "KMSD"))
        process.arguments = [
            "serve", "--listen", "127.0.0.1:0", "--worker-socket", self.workerSocket,
            "--ready-file", readyFile, "--log-level", "warning",
        ] + self.extraArguments
        var environment = ProcessInfo.processInfo.environment
        environment["KMSD_DATABASE_URL"] = self.databaseURL
        process.environment = environment
        try process.run()
        self.process = process
        for _ in 0..<400 {
            if let text = try? String(contentsOfFile: readyFile, encoding: .utf8), text.hasSuffix("\n") {
                self.endpoint = text.trimmingCharacters(in: .whitespacesAndNewlines)
                return
            }
            guard process.isRunning else { throw WorkerTestError("kmsd exited with status \(process.terminationStatus)") }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw WorkerTestError("kmsd did not start listening")
    }

    public func stop() async {
        guard let process = self.process else { return }
        process.terminate()
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        self.process = nil
    }

    public func client(_ configure: (inout KMSClient.Configuration) -> Void = { _ in }) throws -> KMSClient {
        var configuration = KMSClient.Configuration()
        configuration.timeout = .seconds(20)
        configure(&configuration)
        return try KMSClient(endpoint: self.endpoint, configuration: configuration)
    }
}

/// PostgreSQL database + kms-cryptod + kmsd, all real, for one test.
public final class KMSStack: @unchecked Sendable {
    public let database: TestDatabase
    public let worker: WorkerProcess
    public let kmsd: KMSDProcess
    public let client: KMSClient

    public static func start(kmsdArguments: [String] = []) async throws -> KMSStack {
        let database = try await TestDatabase.create()
        let worker = try WorkerProcess()
        try await worker.start()
        let kmsd = KMSDProcess(databaseURL: database.url, workerSocket: worker.socketPath, directory: worker.directory, extraArguments: kmsdArguments)
        try await kmsd.start()
        return KMSStack(database: database, worker: worker, kmsd: kmsd, client: try kmsd.client())
    }

    init(database: TestDatabase, worker: WorkerProcess, kmsd: KMSDProcess, client: KMSClient) {
        self.database = database
        self.worker = worker
        self.kmsd = kmsd
        self.client = client
    }

    /// A second kmsd on the same database and worker.
    public func secondKMSD(arguments: [String] = []) async throws -> KMSDProcess {
        let other = KMSDProcess(databaseURL: self.database.url, workerSocket: self.worker.socketPath, directory: self.worker.directory, extraArguments: arguments)
        try await other.start()
        return other
    }

    public func stop() async {
        await self.client.close()
        await self.kmsd.stop()
        await self.worker.stop()
        await self.database.drop()
    }
}
