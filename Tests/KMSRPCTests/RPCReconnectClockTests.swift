import Foundation
import KMSRPC
import KMSTestSupport
import NIOCore
import Testing

/// The connection pool's reconnect waits, on a manual clock: an endpoint that refuses is tried
/// again only when its backoff has passed, each wait longer than the last, and closing the pool
/// ends a wait at once. Nothing sleeps; the refusals are real (a socket path with no server).
@Suite struct RPCReconnectClockTests {
    @Test func aRefusedEndpointIsTriedAgainOnlyAfterItsBackoff() async throws {
        let manual = ManualClock()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kms-none-\(UUID().uuidString.prefix(8)).sock"
        ).path
        let pool = RPCConnectionPool(
            address: try SocketAddress(unixDomainSocketPath: path), connections: 1,
            reconnectBackoff: RPCBackoff(base: .seconds(1), cap: .seconds(8)), clock: manual
        )
        // The first attempt goes at once.
        await #expect(throws: (any Error).self) { _ = try await pool.connection() }
        #expect(manual.requestedDeadlines.isEmpty)

        // The second waits [0.5 s, 1 s] on the clock, and connects only when it has passed.
        let second = Task { try await pool.connection() }
        await manual.waitForSleepers(1)
        let firstWait = try #require(manual.requestedDeadlines.last) - manual.origin
        #expect(firstWait >= .milliseconds(500) && firstWait <= .seconds(1))
        manual.advance(by: .milliseconds(499))
        #expect(manual.sleeperCount == 1)
        manual.advance(by: .milliseconds(501))
        await #expect(throws: (any Error).self) { _ = try await second.value }

        // Two failures in a row: [1 s, 2 s] from the second failure.
        let third = Task { try await pool.connection() }
        await manual.waitForSleepers(1)
        let secondWait = try #require(manual.requestedDeadlines.last) - (manual.origin + .seconds(1))
        #expect(secondWait >= .seconds(1) && secondWait <= .seconds(2))
        // Closing the pool abandons the wait without the clock moving.
        await pool.close()
        await #expect(throws: (any Error).self) { _ = try await third.value }
        #expect(manual.sleeperCount == 0)
    }
}
