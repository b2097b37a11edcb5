import ArgumentParser
import Foundation

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, text
}

/// Options every operation takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "host:port of kmsd (default: $KMS_ENDPOINT, else 127.0.0.1:7400).")
    var endpoint: String?

    @Option(help: "json (default) or text.")
    var output: OutputFormat = .json

    @Option(help: "Print only this part of the response: a dotted path such as KeyMetadata.KeyId or Keys[0].KeyArn.")
    var query: String?

    @Option(help: "Seconds to wait for an answer.")
    var timeout: Int = 30

    var resolvedEndpoint: String {
        endpoint ?? ProcessInfo.processInfo.environment["KMS_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:7400"
    }
}
