import ArgumentParser

@main
struct CryptoDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kms-cryptod",
        abstract: "The KMS crypto worker: holds the root keyring and does every operation on key material.",
        discussion: """
            kmsd talks to it over a Unix socket that only the same user may open. The root keyring \
            is a file of mode 0600, never an environment variable or an argument.
            """,
        subcommands: [Serve.self, Init.self, RotateRootKey.self, RetireRootKey.self, ListRootKeys.self],
        defaultSubcommand: nil
    )
}

struct KeyringOption: ParsableArguments {
    @Option(name: .customLong("root-key-file"), help: "Path of the root keyring file.")
    var path: String
}
