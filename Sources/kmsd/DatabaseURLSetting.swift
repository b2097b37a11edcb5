import ArgumentParser
import Foundation
import KMSStore
import Logging
import PostgresNIO

/// Where kmsd finds its database URL. The URL usually carries the database password, and a
/// command line is readable by every user of the machine (`ps`, /proc/PID/cmdline) and lands in
/// shell histories and process listings: so a password is taken only from the environment, a
/// file (a mounted Kubernetes Secret, say) or the settings file, never from `--database-url`.
enum DatabaseURLSetting {
    /// The URL, from the first of: `--database-url-file`, `--database-url` (without a password),
    /// KMSD_DATABASE_URL_FILE, KMSD_DATABASE_URL, the settings file's `databaseURLFile`, its
    /// `databaseURL`. Nil when none is given.
    static func resolve(
        flag: String?, flagFile: String?, configURL: String? = nil, configFile: String? = nil
    ) throws -> String? {
        if flag != nil, flagFile != nil {
            throw ValidationError("give --database-url or --database-url-file, not both")
        }
        if let flag {
            if let password = URLComponents(string: flag)?.percentEncodedPassword, !password.isEmpty {
                throw ValidationError(
                    """
                    --database-url must not carry a password: a command line is visible to every user of \
                    the machine; give the URL in KMSD_DATABASE_URL, a file named by --database-url-file or \
                    KMSD_DATABASE_URL_FILE, or the settings file
                    """)
            }
            return flag
        }
        if let path = flagFile ?? environment("DATABASE_URL_FILE") {
            return try read(path)
        }
        if let url = environment("DATABASE_URL") { return url }
        if let configFile { return try read(configFile) }
        return configURL
    }

    /// What to say when no source gives a URL.
    static let missing = """
        a database URL is required: KMSD_DATABASE_URL, a file named by --database-url-file or \
        KMSD_DATABASE_URL_FILE, or --database-url without a password
        """

    /// The file's first line, without surrounding white space (a Secret written with `echo` ends
    /// in a newline).
    static func read(_ path: String) throws -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read the database URL file '\(path)': \(error.localizedDescription)")
        }
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let url = line.trimmingCharacters(in: .whitespaces)
        guard !url.isEmpty else { throw ValidationError("the database URL file '\(path)' is empty") }
        return url
    }
}

/// A one-shot command's database session (`kmsd bootstrap`, `kmsd migrate`): warnings and worse
/// on standard error, a pool of two connections, run for as long as `body` runs.
func withDatabase<T: Sendable>(
    url: String, label: String, _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T
) async throws -> T {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = .warning
        return handler
    }
    let logger = Logger(label: label)
    let client = PostgresClient(
        configuration: try DatabaseConfiguration.parse(url: url, maximumConnections: 2), backgroundLogger: logger)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        // PostgresClient warns about every lease made before run() has begun; let it begin.
        try await Task.sleep(for: .milliseconds(50))
        return try await body(client, logger)
    }
}
