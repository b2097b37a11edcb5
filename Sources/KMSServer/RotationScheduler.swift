import KMSDomain
import Logging
import PostgresNIO
import ServiceLifecycle

/// Performs due automatic rotations. One kmsd at a time does a round (a session advisory lock
/// taken with try: the others skip it); the schedule lives in the database, so it survives
/// restarts, and a round after a long stop catches up at once.
public struct RotationScheduler: Service {
    static let lockKey: Int64 = 0x4B4D_535F_524F_5441  // "KMS_ROTA"

    let client: PostgresClient
    let service: KMSService
    let interval: Duration
    let logger: Logger

    public init(client: PostgresClient, service: KMSService, interval: Duration, logger: Logger) {
        self.client = client
        self.service = service
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await self.roundOnce()
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                self.logger.warning("rotation round failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    /// Holds the lock on one connection for the round; rotations themselves use other
    /// connections (each its own transaction), so a long round never holds one transaction open.
    func roundOnce() async throws {
        try await self.client.withConnection { connection in
            let lock = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey))", logger: self.logger)
            var held = false
            for try await acquired in lock.decode(Bool.self) { held = acquired }
            guard held else { return }
            let outcome: Result<Int, any Error>
            do {
                outcome = .success(try await self.service.rotateDueKeys())
            } catch {
                outcome = .failure(error)
            }
            // Released before the connection goes back to the pool, whatever the round did.
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: self.logger)
            let rotated = try outcome.get()
            if rotated > 0 { self.logger.notice("automatic rotation round", metadata: ["rotated": "\(rotated)"]) }
        }
    }
}
