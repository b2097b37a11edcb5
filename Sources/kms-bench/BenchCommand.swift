import ArgumentParser

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kms-bench",
        abstract: "Drive a running KMS with load and report what it sustained.",
        subcommands: [Run.self, CeilingWorker.self, CeilingFront.self, EnvelopeCache.self],
        defaultSubcommand: Run.self
    )
}
