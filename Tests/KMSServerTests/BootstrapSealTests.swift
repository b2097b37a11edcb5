import Foundation
import KMSClient
import KMSTestSupport
import Testing

/// `kmsd bootstrap --seal-to`: the first admin's secret printed only sealed to the operator's
/// key (a Job's log keeps it), opened by `kms admin open-sealed-credentials`, and a recipient key
/// that does not load refused before the admin is made.
@Suite struct BootstrapSealTests {
    @Test func theSecretReachesTheLogOnlySealed() async throws {
        let database = try await TestDatabase.create()
        let worker = try await WorkerProcess()
        try await worker.start()
        let directory = worker.directory
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let kms = URL(fileURLWithPath: binaryPath("kms", environment: "KMS_CLI"))
        let kmsd = URL(fileURLWithPath: binaryPath("kmsd", environment: "KMSD"))
        let made = try await runChildProcess(
            kms, ["admin", "create-seal-key", "--private-key-out", path("op.pem"), "--public-key-out", path("op.pub")])
        #expect(made.status == 0, "\(made.stderrText)")
        let mode = try FileManager.default.attributesOfItem(atPath: path("op.pem"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // An existing private key is never overwritten.
        let before = try Data(contentsOf: URL(fileURLWithPath: path("op.pem")))
        let again = try await runChildProcess(
            kms, ["admin", "create-seal-key", "--private-key-out", path("op.pem"), "--public-key-out", path("x.pub")],
            mergeStandardError: true)
        #expect(again.status != 0 && again.stdoutText.contains("exists"), "\(again.stdoutText)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("op.pem"))) == before)
        try "not a key".write(toFile: path("bad.pub"), atomically: true, encoding: .utf8)

        var environment = ProcessInfo.processInfo.environment
        environment["KMSD_DATABASE_URL"] = database.url
        // A recipient that does not load: refused, and no admin made (the secret is not lost).
        let refused = try await runChildProcess(
            kmsd, ["bootstrap", "--worker-socket", worker.socketPath, "--seal-to", path("bad.pub")],
            environment: environment)
        #expect(refused.status != 0 && refused.stderrText.contains("--seal-to"), "\(refused.stderrText)")
        #expect(refused.stdoutText.isEmpty)

        let sealed = try await runChildProcess(
            kmsd, ["bootstrap", "--worker-socket", worker.socketPath, "--seal-to", path("op.pub")],
            environment: environment)
        #expect(sealed.status == 0, "\(sealed.stderrText)")
        #expect(sealed.stdoutText.contains("-----BEGIN KMS SEALED CREDENTIALS-----"))
        #expect(!sealed.stdoutText.contains("aws_secret_access_key"), "the secret in plaintext: \(sealed.stdoutText)")

        // What an operator does with the Job's log.
        let opened = try await runChildProcess(
            kms, ["admin", "open-sealed-credentials", "--private-key", path("op.pem")],
            input: Data(("kmsd: applied migrations\n" + sealed.stdoutText).utf8))
        #expect(opened.status == 0, "\(opened.stderrText)")
        try opened.stdoutText.write(toFile: path("admin.credentials"), atomically: true, encoding: .utf8)
        let server = KMSDProcess(databaseURL: database.url, workerSocket: worker.socketPath, directory: directory)
        try await server.start()
        var credentials = ProcessInfo.processInfo.environment
        credentials["AWS_SHARED_CREDENTIALS_FILE"] = path("admin.credentials")
        credentials.removeValue(forKey: "AWS_ACCESS_KEY_ID")
        credentials.removeValue(forKey: "AWS_SECRET_ACCESS_KEY")
        credentials.removeValue(forKey: "AWS_PROFILE")
        let resolved = try #require(try KMSCredentials.resolve(environment: credentials))
        let admin = try server.client(credentials: resolved)
        #expect(try await admin.callerIdentity().arn == "arn:aws:iam::111122223333:user/admin")
        await admin.close()

        // Another private key opens nothing.
        let other = try await runChildProcess(
            kms,
            ["admin", "create-seal-key", "--private-key-out", path("other.pem"), "--public-key-out", path("other.pub")])
        #expect(other.status == 0)
        let wrong = try await runChildProcess(
            kms, ["admin", "open-sealed-credentials", "--private-key", path("other.pem")],
            input: Data(sealed.stdoutText.utf8))
        #expect(wrong.status != 0 && wrong.stdoutText.isEmpty && wrong.stderrText.contains("does not open"))
        await server.stop()
        await worker.stop()
        await database.drop()
    }
}
