import Foundation
import KMSStore
import Logging
import PostgresNIO

/// A fresh database per test, on the PostgreSQL that `scripts/test` starts
/// (KMS_TEST_DATABASE_URL names its admin database).
public final class TestDatabase: Sendable {
    public let url: String
    public let name: String
    let adminURL: String

    public static var adminURL: String? {
        ProcessInfo.processInfo.environment["KMS_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static func create() async throws -> TestDatabase {
        guard let adminURL = Self.adminURL else {
            throw WorkerTestError(
                "KMS_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts PostgreSQL")
        }
        return try await Self.create(adminURL: adminURL)
    }

    /// A fresh database on the server whose admin database `adminURL` names (a test's own
    /// `PostgresCluster`, say).
    public static func create(adminURL: String) async throws -> TestDatabase {
        let name = "kms_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try await Self.withClient(adminURL) { client in
            try await client.query("CREATE DATABASE \(unescaped: String(name))")
        }
        guard var components = URLComponents(string: adminURL) else {
            throw WorkerTestError("bad KMS_TEST_DATABASE_URL")
        }
        components.path = "/\(name)"
        return TestDatabase(url: components.string!, name: String(name), adminURL: adminURL)
    }

    init(url: String, name: String, adminURL: String) {
        self.url = url
        self.name = name
        self.adminURL = adminURL
    }

    /// This database's URL with another port: the same server reached through a `FaultProxy`.
    public func url(port: Int) -> String {
        var components = URLComponents(string: self.url)!
        components.host = "127.0.0.1"
        components.port = port
        return components.string!
    }

    /// The server's host and port.
    public var hostAndPort: (host: String, port: Int) {
        let components = URLComponents(string: self.url)
        return (components?.host ?? "127.0.0.1", components?.port ?? 5432)
    }

    /// Runs SQL against this database (for tests that look behind the service's back). One
    /// connection makes every statement run in the same session (tests of what a session keeps).
    public func withClient<T: Sendable>(
        maximumConnections: Int = 2, _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        try await Self.withClient(self.url, maximumConnections: maximumConnections, body)
    }

    public func drop() async {
        try? await Self.withClient(self.adminURL) { client in
            try await client.query("DROP DATABASE IF EXISTS \(unescaped: self.name) WITH (FORCE)")
        }
    }

    static func withClient<T: Sendable>(
        _ url: String, maximumConnections: Int = 2, _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        var configuration = try DatabaseConfiguration.parse(url: url, maximumConnections: maximumConnections)
        configuration.tls = .disable
        let client = PostgresClient(configuration: configuration)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
