import Foundation
import KMSTestSupport
import Logging
import PostgresNIO

struct LockNotTaken: Error {}

/// A row lock held in an open transaction on a connection of its own until `release`.
final class HeldLock: Sendable {
    let holder: Task<Void, any Error>
    let release: AsyncStream<Void>.Continuation

    private init(holder: Task<Void, any Error>, release: AsyncStream<Void>.Continuation) {
        self.holder = holder
        self.release = release
    }

    static func take(_ database: TestDatabase, _ statement: String) async throws -> HeldLock {
        try await Self.take(statement) { hold in try await database.withClient { try await $0.withConnection(hold) } }
    }

    /// The same on a connection of `client`'s pool.
    static func take(_ client: PostgresClient, _ statement: String) async throws -> HeldLock {
        try await Self.take(statement) { hold in try await client.withConnection(hold) }
    }

    private static func take(
        _ statement: String,
        on withConnection:
            @escaping @Sendable (@Sendable (PostgresConnection) async throws -> Void) async throws
            -> Void
    ) async throws -> HeldLock {
        let (taken, tookIt) = AsyncStream<Void>.makeStream()
        let (released, release) = AsyncStream<Void>.makeStream()
        let holder = Task {
            defer { tookIt.finish() }
            try await withConnection { connection in
                let logger = Logger(label: "test")
                try await connection.query("BEGIN", logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                tookIt.yield()
                for await _ in released { break }
                try await connection.query("ROLLBACK", logger: logger)
            }
        }
        var held = false
        for await _ in taken {
            held = true
            break
        }
        guard held else {
            try await holder.value
            throw LockNotTaken()
        }
        return HeldLock(holder: holder, release: release)
    }

    func release() async throws {
        self.release.yield()
        try await self.holder.value
    }
}
