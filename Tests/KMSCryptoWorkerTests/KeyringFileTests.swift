import Foundation
import KMSTestSupport
import Testing

/// The keyring commands of the real binary, and how `serve` guards the keyring and the socket.
@Suite struct KeyringFileTests {
    @Test func initWritesAPrivateFileAndRefusesToOverwriteIt() async throws {
        let worker = try await WorkerProcess()
        let attributes = try FileManager.default.attributesOfItem(atPath: worker.keyringPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let before = try Data(contentsOf: URL(fileURLWithPath: worker.keyringPath))
        let again = try await WorkerProcess.run(["init", "--root-key-file", worker.keyringPath])
        #expect(again.status != 0)
        #expect(again.output.contains("refusing to overwrite"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: worker.keyringPath)) == before)
    }

    @Test(arguments: [0o640, 0o604, 0o644, 0o666])
    func serveRefusesAKeyringOpenToOthers(mode: Int) async throws {
        let worker = try await WorkerProcess()
        chmod(worker.keyringPath, mode_t(mode))
        let result = try await WorkerProcess.run([
            "serve", "--root-key-file", worker.keyringPath, "--socket", worker.socketPath,
        ])
        #expect(result.status != 0)
        #expect(result.output.contains("must not be open to group or others"))
        #expect(!FileManager.default.fileExists(atPath: worker.socketPath))
    }

    @Test func serveAcceptsAReadOnlyKeyring() async throws {
        let worker = try await WorkerProcess()
        chmod(worker.keyringPath, 0o400)
        try await worker.start()
        await worker.stop()
    }

    @Test func rotateRootKeyAddsANewestKeyAndKeepsTheOld() async throws {
        let worker = try await WorkerProcess()
        let before = try await WorkerProcess.run(["list-root-keys", "--root-key-file", worker.keyringPath]).output
        #expect(try await WorkerProcess.run(["rotate-root-key", "--root-key-file", worker.keyringPath]).status == 0)
        let after = try await WorkerProcess.run(["list-root-keys", "--root-key-file", worker.keyringPath]).output
        let lines = after.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasSuffix("(newest)"))
        #expect(after.contains(before.split(separator: " ")[0]))
        let attributes = try FileManager.default.attributesOfItem(atPath: worker.keyringPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func theSocketIsPrivateAndRemovedOnShutdown() async throws {
        let worker = try await WorkerProcess()
        try await worker.start()
        var info = stat()
        #expect(lstat(worker.socketPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        await worker.stop()
        #expect(!FileManager.default.fileExists(atPath: worker.socketPath))
    }

    @Test func aSecondWorkerOnTheSameSocketIsRefused() async throws {
        let worker = try await WorkerProcess()
        try await worker.start()
        let second = try await WorkerProcess.run([
            "serve", "--root-key-file", worker.keyringPath, "--socket", worker.socketPath,
        ])
        #expect(second.status != 0)
        #expect(second.output.contains("already serving"))
        await worker.stop()
    }
}
