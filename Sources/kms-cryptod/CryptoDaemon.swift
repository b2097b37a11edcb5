import ArgumentParser
import Foundation

@main
struct CryptoDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kms-cryptod",
        abstract: "The KMS crypto worker: holds the root keyring and does every operation on key material.",
        discussion: """
            kmsd talks to it over a Unix socket that only the same user may open. The root keyring \
            is a file of mode 0600, never an environment variable or an argument.
            """,
        subcommands: [
            Serve.self, Init.self, RotateRootKey.self, RetireRootKey.self, ListRootKeys.self, TransportKey.self,
        ],
        defaultSubcommand: nil
    )
}

struct KeyringOption: ParsableArguments {
    @Option(name: .customLong("root-key-file"), help: "Path of the root keyring file (KMS_CRYPTOD_ROOT_KEY_FILE).")
    var file: String?

    /// The keyring's path, from the flag or the environment (`validate` made sure of one).
    var path: String { self.file ?? "" }

    mutating func validate() throws {
        self.file = self.file ?? CryptodEnvironment.string("ROOT_KEY_FILE")
        guard let file, !file.isEmpty else {
            throw ValidationError("--root-key-file (or KMS_CRYPTOD_ROOT_KEY_FILE) is required")
        }
    }
}

/// kms-cryptod's settings from `KMS_CRYPTOD_*` environment variables, where the flag is not
/// given (a flag wins): a manifest sets them from a ConfigMap as it does kmsd's `KMSD_*`.
/// None is a secret: the keyring is a file, and only its path is a setting.
enum CryptodEnvironment {
    static func string(_ name: String) -> String? {
        ProcessInfo.processInfo.environment["KMS_CRYPTOD_" + name]
    }

    static func integer(_ name: String) throws -> Int? {
        guard let text = Self.string(name) else { return nil }
        guard let value = Int(text) else {
            throw ValidationError("KMS_CRYPTOD_\(name) must be an integer, not '\(text)'")
        }
        return value
    }
}
