import ArgumentParser

@main
struct KMSD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kmsd",
        abstract: "The KMS front end: the binary protocol, keys and aliases in PostgreSQL, crypto through kms-cryptod.",
        subcommands: [Serve.self, BootstrapCommand.self, MigrateCommand.self]
    )
}
