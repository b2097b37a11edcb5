import ArgumentParser
import Foundation
import KMSStore

/// `kmsd migrate`: brings the database's schema up to this build's, then exits. `kmsd serve`
/// and `kmsd bootstrap` migrate too; this is the step a deployment runs once before rolling out a
/// new version (a Kubernetes Job), so no serving pod waits on a migration and a failed migration
/// stops the rollout instead of a crash loop.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the database migrations this kmsd knows and exit.",
        discussion: """
            Safe to run while other kmsd serve (migrations take a lock and each applies once). Reads \
            KMSD_DATABASE_URL or KMSD_DATABASE_URL_FILE like `kmsd serve`. Prints the schema version \
            reached on stdout.
            """
    )

    @Option(name: .customLong("database-url"), help: "postgres://..., no password (KMSD_DATABASE_URL).")
    var databaseURL: String?
    @Option(name: .customLong("database-url-file"), help: "A file holding the URL (KMSD_DATABASE_URL_FILE).")
    var databaseURLFile: String?

    func run() async throws {
        guard let databaseURL = try DatabaseURLSetting.resolve(flag: self.databaseURL, flagFile: self.databaseURLFile)
        else {
            throw ValidationError(DatabaseURLSetting.missing)
        }
        try await withDatabase(url: databaseURL, label: "kmsd.migrate") { client, logger in
            try await Migrations.apply(on: client, logger: logger)
        }
        print("schema at migration \(Migrations.all.last?.version ?? 0)")
    }
}
