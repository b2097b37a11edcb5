import ArgumentParser
import Foundation
import KMSClient

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, text
}

/// How to reach kmsd and as whom: every command that calls it takes these.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "kmsd: host:port, or tls://host:port (default: $KMS_ENDPOINT, else 127.0.0.1:7400).")
    var endpoint: String?

    @Option(
        help:
            ArgumentHelp(
                "A profile of the shared credentials file (default: $AWS_PROFILE, else the access key in "
                    + "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else 'default').")
    )
    var profile: String?

    @Option(
        name: .customLong("ca-bundle"), help: "PEM CA bundle to verify kmsd's certificate (default: $AWS_CA_BUNDLE).")
    var caBundle: String?

    @Option(help: "PEM client certificate for mutual TLS (default: $KMS_CLIENT_CERTIFICATE).")
    var clientCertificate: String?

    @Option(help: "PEM key of --client-certificate (default: $KMS_CLIENT_KEY).")
    var clientKey: String?

    @Option(help: "Seconds to wait for an answer.")
    var timeout: Int = 30

    /// A client as these options and the environment say; exit 254 with the aws CLI's wording
    /// when they do not add up.
    func makeClient() throws -> KMSClient {
        var configuration = KMSClient.Configuration()
        configuration.timeout = .seconds(Int64(max(1, self.timeout)))
        do {
            let resolved = try KMSClientEnvironment(
                endpoint: self.endpoint, profile: self.profile, caBundle: self.caBundle,
                clientCertificate: self.clientCertificate, clientKey: self.clientKey
            ).resolve(configuration)
            return try KMSClient(endpoint: resolved.endpoint, configuration: resolved.configuration)
        } catch {
            FileHandle.standardError.write(Data("\((error as? KMSClientError)?.message ?? "\(error)")\n".utf8))
            throw ExitCode(255)
        }
    }
}

/// Options every operation takes: the connection's, and how to print the answer. (`kms
/// envelope` takes the connection's alone: its --output is a file.)
struct GlobalOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions

    @Option(help: "json (default) or text.")
    var output: OutputFormat = .json

    @Option(help: "Print only this part of the response: a dotted path such as KeyMetadata.KeyId or Keys[0].KeyArn.")
    var query: String?

    @Flag(help: "Print one page of a paginated operation (list-keys, list-aliases, ...) rather than them all.")
    var noPaginate = false

    /// A client as the connection options and the environment say.
    func makeClient() throws -> KMSClient { try self.connection.makeClient() }
}
