import Foundation

/// A KMSStack whose kmsd reaches PostgreSQL (TCP) and kms-cryptod (its Unix socket) through a
/// `FaultProxy` each, so that a test can stall, slow, reset or garble either link while the
/// processes run on untouched.
public final class FaultStack: Sendable {
    public let stack: KMSStack
    /// Between kmsd and PostgreSQL.
    public let database: FaultProxy
    /// Between kmsd and kms-cryptod.
    public let worker: FaultProxy

    /// `adminURL`: the server to make the database on (default: the shared test server).
    public static func start(kmsdArguments: [String] = [], adminURL: String? = nil) async throws -> FaultStack {
        let database: TestDatabase
        if let adminURL {
            database = try await TestDatabase.create(adminURL: adminURL)
        } else {
            database = try await TestDatabase.create()
        }
        let worker = try await WorkerProcess()
        try await worker.start()
        let (host, port) = database.hostAndPort
        let databaseProxy = try await FaultProxy.tcp(to: host, port: port)
        let workerProxy = try await FaultProxy.unix(
            at: worker.directory.appendingPathComponent("p.sock").path, to: worker.socketPath)
        // Bootstrapped directly: the faults are for kmsd's links, not for the test's setup.
        let admin = try await KMSDProcess.bootstrap(databaseURL: database.url, workerSocket: worker.socketPath)
        let kmsd = KMSDProcess(
            databaseURL: database.url(port: databaseProxy.port!), workerSocket: workerProxy.path!,
            directory: worker.directory,
            extraArguments: kmsdArguments
        )
        try await kmsd.start()
        let stack = KMSStack(
            database: database, worker: worker, kmsd: kmsd, adminCredentials: admin,
            client: try kmsd.client(credentials: admin))
        return FaultStack(stack: stack, database: databaseProxy, worker: workerProxy)
    }

    init(stack: KMSStack, database: FaultProxy, worker: FaultProxy) {
        self.stack = stack
        self.database = database
        self.worker = worker
    }

    /// Clears the faults and stops the stack; how kmsd's stop ended.
    @discardableResult
    public func stop() async -> ProcessStop {
        self.database.set(.pass)
        self.worker.set(.pass)
        let kmsd = await self.stack.stop()
        await self.database.close()
        await self.worker.close()
        return kmsd
    }
}
