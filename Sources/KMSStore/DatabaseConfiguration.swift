import Foundation
import KMSDomain
import PostgresNIO

/// Builds a PostgresClient configuration from a `postgres://user:password@host:port/database`
/// URL (`?sslmode=disable|prefer|require`, default prefer; a `host=/path` query parameter or a
/// host starting with `/` means a Unix socket folder).
public enum DatabaseConfiguration {
    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    public static func parse(url text: String, maximumConnections: Int = 20) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: text),
              components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw InvalidURL(description: "the database URL must look like postgres://user:password@host:port/database")
        }
        let user = components.percentEncodedUser?.removingPercentEncoding ?? "postgres"
        let password = components.percentEncodedPassword?.removingPercentEncoding
        let database = String(components.path.drop(while: { $0 == "/" }))
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last }
        )
        var configuration: PostgresClient.Configuration
        if let socketFolder = query["host"], socketFolder.hasPrefix("/") {
            let port = components.port ?? 5432
            configuration = .init(
                unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: user, password: password,
                database: database.isEmpty ? nil : database
            )
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch query["sslmode"] ?? "prefer" {
            case "disable": tls = .disable
            case "require", "verify-full", "verify-ca": tls = .require(.makeClientConfiguration())
            default: tls = .prefer(.makeClientConfiguration())
            }
            configuration = .init(
                host: components.host ?? "127.0.0.1", port: components.port ?? 5432, username: user,
                password: password, database: database.isEmpty ? nil : database, tls: tls
            )
        }
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = min(2, maximumConnections)
        return configuration
    }
}
