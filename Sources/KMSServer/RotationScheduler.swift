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
    let clock: ServiceClock

    /// A scheduler that rotates due keys through `service`, a round every `interval`.
    public init(
        client: PostgresClient, service: KMSService, interval: Duration, logger: Logger, clock: ServiceClock = .system
    ) {
        self.client = client
        self.service = service
        self.interval = interval
        self.logger = logger
        self.clock = clock
    }

    /// Runs rounds until a graceful shutdown; a failed round is logged and the next tries again.
    public func run() async throws {
        await Periodic.rounds(
            every: self.interval, clock: self.clock, logger: self.logger, failure: "rotation round failed"
        ) { try await self.roundOnce() }
    }

    func roundOnce() async throws {
        let rotated = try await self.client.withSessionAdvisoryLock(
            Self.lockKey, logger: self.logger, statements: .backgroundCalls
        ) {
            try await self.service.rotateDueKeys()
        }
        if let rotated, rotated > 0 {
            self.logger.notice("automatic rotation round", metadata: ["rotated": "\(rotated)"])
        }
    }
}
