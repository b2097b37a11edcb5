import Foundation
import KMSDomain
import NIOSSL
import PostgresNIO

/// Builds a PostgresClient configuration from a `postgres://user:password@host:port/database`
/// URL. A `host=/path` query parameter or a host starting with `/` means a Unix socket folder
/// (no TLS). Over TCP, `sslmode` and `sslrootcert` mean what they mean to libpq (`DatabaseTLS`).
public enum DatabaseConfiguration {
    /// A database URL or TLS setting that cannot be used; the description says which part and why.
    public struct InvalidURL: Error, CustomStringConvertible {
        /// What is wrong; it never repeats the password.
        public let description: String
    }

    /// The configuration for `text`, with at most `maximumConnections` pooled connections; throws
    /// `InvalidURL` for anything it cannot use.
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
            let tls = try DatabaseTLS(sslmode: query["sslmode"], sslrootcert: query["sslrootcert"])
            configuration = .init(
                host: components.host ?? "127.0.0.1", port: components.port ?? 5432, username: user,
                password: password, database: database.isEmpty ? nil : database, tls: try tls.configuration()
            )
        }
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = min(2, maximumConnections)
        return configuration
    }
}

/// TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` describe it:
///
/// | sslmode | encrypted | server certificate checked |
/// |---|---|---|
/// | `disable` | never | - |
/// | `prefer` (default) | when the server offers it | no |
/// | `require` | always | no (as `verify-ca` when `sslrootcert` is given, as libpq does) |
/// | `verify-ca` | always | chain to `sslrootcert` (required) |
/// | `verify-full` | always | chain to `sslrootcert` (else the system's CAs) and the URL's host name or IP |
///
/// Only `verify-full` stops someone who can redirect the connection (DNS, ARP, a compromised
/// router) from impersonating the database; `prefer` and `require` stop only passive listening.
/// libpq's `allow` is not offered (postgres-nio cannot fall back from plain to TLS), and an
/// unknown mode is refused rather than read as `prefer`: a typo must not quietly turn off
/// verification.
public struct DatabaseTLS: Sendable, Hashable {
    /// libpq's `sslmode` values, less `allow`.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// What the certificate is checked against.
    public enum Verification: Sendable, Hashable {
        case none
        /// The chain, to these roots (nil: the system's); not the name.
        case chain(rootCertificate: String?)
        /// The chain and the server's name or IP address.
        case full(rootCertificate: String?)
    }

    /// The mode asked for (`prefer` when none was).
    public let mode: Mode
    /// What `mode` and `sslrootcert` amount to.
    public let verification: Verification

    /// The URL's `sslmode` and `sslrootcert`, read as libpq reads them; an unknown mode throws.
    public init(sslmode: String?, sslrootcert: String?) throws(DatabaseConfiguration.InvalidURL) {
        guard let mode = Mode(rawValue: sslmode ?? "prefer") else {
            throw .init(
                description:
                    "sslmode must be one of \(Mode.allCases.map(\.rawValue).joined(separator: ", ")), not "
                    + "'\(sslmode ?? "")'"
            )
        }
        // libpq's sslrootcert=system: the system's CAs, which it allows only with verify-full.
        let root = sslrootcert.flatMap { $0.isEmpty || $0 == "system" ? nil : $0 }
        if sslrootcert == "system", mode != .verifyFull {
            throw .init(
                description:
                    "sslrootcert=system needs sslmode=verify-full: any publicly trusted certificate would pass "
                    + "otherwise"
            )
        }
        if let root {
            guard FileManager.default.isReadableFile(atPath: root) else {
                throw .init(description: "sslrootcert \(root) does not exist or cannot be read")
            }
        }
        self.mode = mode
        switch mode {
        case .disable, .prefer:
            self.verification = .none
        case .require:
            self.verification = root.map { .chain(rootCertificate: $0) } ?? .none
        case .verifyCA:
            guard let root else {
                throw .init(
                    description: "sslmode=verify-ca needs sslrootcert=FILE, the CA that issued the server's certificate"
                )
            }
            self.verification = .chain(rootCertificate: root)
        case .verifyFull:
            self.verification = .full(rootCertificate: root)
        }
    }

    /// postgres-nio's TLS setting. With `.full`, postgres-nio passes the URL's host name to the
    /// handshake (SNI and name check); for an IP address NIOSSL checks the certificate's IP SANs
    /// against the address connected to.
    public func configuration() throws -> PostgresClient.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        switch self.verification {
        case .none:
            tls.certificateVerification = .none
        case .chain(let root):
            tls.certificateVerification = .noHostnameVerification
            if let root { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(root)) }
        case .full(let root):
            tls.certificateVerification = .fullVerification
            if let root { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(root)) }
        }
        switch self.mode {
        case .disable: return .disable
        case .prefer: return .prefer(tls)
        case .require, .verifyCA, .verifyFull: return .require(tls)
        }
    }
}
