import Foundation
import KMSRPC
import NIOCore
import NIOPosix

/// A real kms-cryptod process on a socket in a temporary folder, started from the binary that
/// `swift build` put beside the test bundle.
public final class WorkerProcess: @unchecked Sendable {
    public let directory: URL
    public let keyringPath: String
    public let socketPath: String
    public private(set) var process: Process?

    static var binary: String { binaryPath("kms-cryptod", environment: "KMS_CRYPTOD") }

    /// A new folder with a freshly initialised keyring, or with a copy of the keyring file at
    /// `keyring` (a second kms-cryptod with the same root keys, as replicas mount one Secret).
    public init(keyring: String? = nil) async throws {
        // Short path: a Unix socket path must fit in 108 bytes.
        self.directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("kmsw-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.keyringPath = self.directory.appendingPathComponent("root.keyring").path
        self.socketPath = self.directory.appendingPathComponent("w.sock").path
        if let keyring {
            try FileManager.default.copyItem(atPath: keyring, toPath: self.keyringPath)
            // kms-cryptod refuses a keyring others may read.
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: self.keyringPath)
            return
        }
        let result = try await Self.run(["init", "--root-key-file", self.keyringPath])
        guard result.status == 0 else { throw WorkerTestError("init failed: \(result.output)") }
    }

    deinit {
        // Only a process still running: the pid of one that exited may already be another's.
        if let process = self.process, process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Runs a kms-cryptod subcommand to completion, off the cooperative pool (`runChildProcess`).
    public static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let result = try await runChildProcess(URL(fileURLWithPath: binary), arguments, mergeStandardError: true)
        return (result.status, result.stdoutText)
    }

    /// Starts `serve` and waits until the socket answers. `launcher`: a command that execs
    /// kms-cryptod for us (`NetworkNamespace.launcher`); empty: kms-cryptod directly.
    /// `environment`: settings as `KMS_CRYPTOD_*` variables instead of the flags (the socket and
    /// keyring flags are then left out; the test sets those variables). `childEnvironment`: variables
    /// added to the inherited ones, flags unchanged (SOFTHSM2_CONF for a SoftHSM2 token).
    public func start(
        extraArguments: [String] = [], launcher: [String] = [], environment: [String: String]? = nil,
        childEnvironment: [String: String] = [:]
    ) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher.first ?? Self.binary)
        // SIGTERM stops it at once unless a test asks for the grace period a pod gets (25 s by
        // default: kmsd's open connections are served until kmsd closes them): the suites that
        // restart the worker under a running kmsd test the reconnection, not the drain.
        let grace = extraArguments.contains("--shutdown-grace-seconds") ? [] : ["--shutdown-grace-seconds", "0"]
        process.arguments =
            (launcher.isEmpty ? [] : Array(launcher.dropFirst()) + [Self.binary])
            + ["serve"]
            + (environment == nil
                ? ["--root-key-file", self.keyringPath, "--socket", self.socketPath, "--log-level", "warning"] + grace
                : [])
            + extraArguments
        if environment != nil || !childEnvironment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment ?? [:]) { $1 }
                .merging(childEnvironment) { $1 }
        }
        let log = ChildLog(in: self.directory, name: "kms-cryptod-\(UUID().uuidString.prefix(8)).log")
        try log.attach(to: process)
        try process.run()
        self.process = process
        // Only a guard against a hang: a loaded machine may take many seconds to start it.
        let hang = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < hang {
            if let connection = try? await RPCClientConnection.connect(unixDomainSocketPath: self.socketPath) {
                await connection.close()
                return
            }
            guard process.isRunning else {
                throw WorkerTestError(
                    "kms-cryptod exited with status \(process.terminationStatus); its output:\n\(log.tail())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WorkerTestError("kms-cryptod did not start listening")
    }

    /// Sends a signal (SIGHUP re-reads the keyring).
    public func signal(_ number: Int32) {
        guard let process = self.process, process.isRunning else { return }
        kill(process.processIdentifier, number)
    }

    /// Waits until the process exits, at most `limit`: its exit status, or nil if it still runs.
    public func waitForExit(within limit: Duration) async -> Int32? {
        guard let process = self.process else { return nil }
        return await waitForProcessExit(process, within: limit)
    }

    /// SIGKILL: a crash; the socket file stays behind, as it would.
    public func crash() async {
        guard let process = self.process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        self.process = nil
    }

    /// SIGTERM, then waits for the exit.
    public func stop() async {
        guard let process = self.process else { return }
        if process.isRunning { process.terminate() }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        self.process = nil
    }

    public func connect() async throws -> RPCClientConnection {
        try await RPCClientConnection.connect(unixDomainSocketPath: self.socketPath)
    }
}

public struct WorkerTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Waits until `process` exits, at most `limit`: its exit status, or nil if it still runs.
public func waitForProcessExit(_ process: Process, within limit: Duration) async -> Int32? {
    let end = ContinuousClock.now + limit
    while process.isRunning {
        guard ContinuousClock.now < end else { return nil }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return process.terminationStatus
}

/// A binary that `swift build` put beside the test bundle (or the path in `environment`).
public func binaryPath(_ name: String, environment: String) -> String {
    if let path = ProcessInfo.processInfo.environment[environment] { return path }
    let testBundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var directory = testBundle.deletingLastPathComponent()
    // On macOS the test binary sits inside a .xctest bundle.
    while directory.pathExtension == "xctest" || directory.lastPathComponent == "MacOS"
        || directory.lastPathComponent == "Contents"
    {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent(name).path
}
