import Foundation
import KMSTestSupport
import Testing

/// kmsd takes its database password from the environment or a file, never from its command line
/// (readable by every user of the machine); `kmsd migrate` brings a new database up to date.
@Suite struct DatabaseURLSettingTests {
    static func kmsd(_ arguments: [String], env: [String: String] = [:]) async throws -> ChildProcessResult {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KMSD_") }
        environment.merge(env) { _, new in new }
        return try await runChildProcess(
            URL(fileURLWithPath: binaryPath("kmsd", environment: "KMSD")), arguments, environment: environment)
    }

    @Test func aPasswordOnTheCommandLineIsRefusedBeforeAnythingRuns() async throws {
        let url = "postgres://kms:s3cret-pw@127.0.0.1:1/kms"
        for command in [["migrate"], ["bootstrap", "--worker-socket", "/nonexistent"], ["serve"]] {
            let run = try await Self.kmsd(command + ["--database-url", url])
            #expect(run.status != 0)
            #expect(run.stderrText.contains("--database-url must not carry a password"), "\(command)")
            #expect(!run.stderrText.contains("s3cret-pw"), "the refusal repeats no secret")
        }
    }

    @Test func migrateReadsTheURLFromAFileOrTheEnvironment() async throws {
        let database = try await TestDatabase.create()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kmsd-url-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("url")
        // As a Secret written with echo holds it: one line and its newline.
        try Data("\(database.url)\n".utf8).write(to: file)

        let fromFlag = try await Self.kmsd(["migrate", "--database-url-file", file.path])
        #expect(fromFlag.status == 0, "\(fromFlag.stderrText)")
        #expect(fromFlag.stdoutText.hasPrefix("schema at migration "))
        let fromEnvironmentFile = try await Self.kmsd(["migrate"], env: ["KMSD_DATABASE_URL_FILE": file.path])
        #expect(fromEnvironmentFile.status == 0, "\(fromEnvironmentFile.stderrText)")
        let fromEnvironment = try await Self.kmsd(["migrate"], env: ["KMSD_DATABASE_URL": database.url])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderrText)")
        try await database.withClient { client in
            let rows = try await client.query("SELECT count(*) FROM kms_schema_migrations")
            for try await count in rows.decode(Int.self) { #expect(count > 10) }
        }
        await database.drop()
    }

    @Test func missingEmptyOrDoubleSourcesSayWhatIsWrong() async throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("kmsd-empty-\(UUID())")
        try Data().write(to: empty)
        defer { try? FileManager.default.removeItem(at: empty) }
        let cases: [([String], String)] = [
            (["migrate"], "a database URL is required"),
            (["migrate", "--database-url-file", "/nonexistent/url"], "cannot read the database URL file"),
            (["migrate", "--database-url-file", empty.path], "is empty"),
            (
                ["migrate", "--database-url", "postgres://kms@h/db", "--database-url-file", empty.path],
                "not both"
            ),
        ]
        for (arguments, message) in cases {
            let run = try await Self.kmsd(arguments)
            #expect(run.status != 0)
            #expect(run.stderrText.contains(message), "\(arguments): \(run.stderrText)")
        }
    }
}
