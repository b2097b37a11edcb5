import Dispatch
import Foundation
import Synchronization

/// A SoftHSM2 token made for a test, in a temporary folder: a softhsm2.conf whose token
/// directory is that folder (SOFTHSM2_CONF names it), never the system's. SoftHSM2 (Debian's
/// softhsm2) is a requirement of the test suites, installed by scripts/install-build-deps: when it
/// is missing, making a token throws, and the test fails saying so.
///
/// Two kinds. `init` makes a token in a folder of its own, for a kms-cryptod child (`environment`).
/// `shared()` hands out one of a set of tokens made at once, before this process first loads the
/// module: SoftHSM2 reads SOFTHSM2_CONF once per process, and a process that lists slots while
/// another initializes a token in its directory may miss that token for good, so the tokens of
/// the test process itself are all made first.
public final class SoftHSMToken: Sendable {
    /// The module's path.
    public let modulePath: String
    /// This token's label.
    public let label: String
    /// The user PIN.
    public let pin: String
    /// The configuration file (SOFTHSM2_CONF).
    public let configPath: String
    private let ownFolder: URL?

    /// Where Debian's softhsm2 puts the module.
    public static let modulePaths = [
        "/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    /// The PIN of the shared tokens, and the default.
    public static let defaultPIN = "1234-user-pin"
    static let soPIN = "5678-so-pin"
    static let sharedCount = 16

    private init(modulePath: String, label: String, pin: String, configPath: String, ownFolder: URL?) {
        self.modulePath = modulePath
        self.label = label
        self.pin = pin
        self.configPath = configPath
        self.ownFolder = ownFolder
    }

    /// A token in a folder of its own (label "kms-" and 8 random characters unless given).
    public convenience init(label: String? = nil, pin: String = SoftHSMToken.defaultPIN) async throws {
        let module = try Self.module()
        let (folder, config) = try Self.makeConfiguration()
        let label = label ?? Self.newLabel()
        try await Self.initToken(label: label, pin: pin, config: config)
        self.init(modulePath: module, label: label, pin: pin, configPath: config, ownFolder: folder)
    }

    deinit {
        if let folder = self.ownFolder { try? FileManager.default.removeItem(at: folder) }
    }

    /// One of the tokens of this process's own configuration (SOFTHSM2_CONF is set to it), for
    /// tests that load the module themselves; a kms-cryptod given `environment` sees them too.
    public static func shared() async throws -> SoftHSMToken {
        let (config, labels) = try await self.sharedTokens.value
        let index = self.sharedTaken.withLock { taken in
            defer { taken += 1 }
            return taken
        }
        guard index < labels.count else {
            throw WorkerTestError("more than \(labels.count) shared SoftHSM2 tokens asked for: raise sharedCount")
        }
        return SoftHSMToken(
            modulePath: try module(), label: labels[index], pin: defaultPIN, configPath: config, ownFolder: nil)
    }

    /// The environment a child process needs to see this token.
    public var environment: [String: String] { ["SOFTHSM2_CONF": self.configPath] }

    static let sharedTaken = Mutex(0)
    static let sharedTokens = Task { () throws -> (String, [String]) in
        let (_, config) = try makeConfiguration()
        var labels: [String] = []
        for _ in 0..<sharedCount {
            let label = newLabel()
            try await initToken(label: label, pin: defaultPIN, config: config)
            labels.append(label)
        }
        setenv("SOFTHSM2_CONF", config, 1)
        return (config, labels)
    }

    static func module() throws -> String {
        guard let module = modulePaths.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw WorkerTestError(
                "SoftHSM2 is not installed (no \(modulePaths[0])): run scripts/install-build-deps as root, "
                    + "or apt-get install softhsm2")
        }
        return module
    }

    static func newLabel() -> String { "kms-\(UUID().uuidString.prefix(8).lowercased())" }

    static func makeConfiguration() throws -> (URL, String) {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "kms-softhsm-\(UUID().uuidString.prefix(8))")
        let tokens = folder.appendingPathComponent("tokens")
        try FileManager.default.createDirectory(at: tokens, withIntermediateDirectories: true)
        let config = folder.appendingPathComponent("softhsm2.conf")
        try """
        directories.tokendir = \(tokens.path)
        objectstore.backend = file
        log.level = ERROR
        slots.removable = false

        """.write(to: config, atomically: true, encoding: .utf8)
        return (folder, config.path)
    }

    static let initialization = DispatchQueue(label: "SoftHSMToken.initialization")

    /// softhsm2-util --init-token, off the cooperative pool, one at a time: two at once in one token
    /// directory may pick the same free slot.
    static func initToken(label: String, pin: String, config: String) async throws {
        let arguments = ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPIN]
        let environment = ProcessInfo.processInfo.environment.merging(["SOFTHSM2_CONF": config]) { $1 }
        let (status, output) = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<(Int32, String), any Error>) in
            initialization.async {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/softhsm2-util")
                process.arguments = arguments
                process.environment = environment
                let output = Pipe()
                process.standardOutput = output
                process.standardError = output
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationStatus, text))
            }
        }
        guard status == 0 else {
            throw WorkerTestError("softhsm2-util --init-token failed (\(status)): \(output)")
        }
    }
}
