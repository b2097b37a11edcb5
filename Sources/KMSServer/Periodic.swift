import Logging
import ServiceLifecycle

/// The loops of kmsd's background work, in one place: a graceful shutdown ends them between
/// rounds, never in the middle of one.
enum Periodic {
    /// Runs `round` at once and then every `interval`; a failed round is logged and the next
    /// one tries again.
    static func rounds(every interval: Duration, logger: Logger, failure: Logger.Message, _ round: () async throws -> Void) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await round()
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                logger.warning(failure, metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Runs `flush` every `interval`, and once more at shutdown.
    static func flushes(every interval: Duration, _ flush: @escaping @Sendable () async -> Void) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            await flush()
        }
        // The last flush must not inherit the shutdown's cancellation, or it would be lost.
        await Task { await flush() }.value
    }
}
