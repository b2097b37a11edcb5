import ArgumentParser
import Foundation
import KMSClient
import Logging

/// A sidecar's settings from environment variables, `<prefix>NAME`, where no flag gave them (a
/// flag wins); an empty variable is unset.
public struct SidecarEnvironment: Sendable {
    /// "KMS_AGENT_", "KMS_K8S_PLUGIN_".
    public let prefix: String
    let values: [String: String]

    /// The variables of `values` (the process's by default) under `prefix`.
    public init(prefix: String, values: [String: String] = ProcessInfo.processInfo.environment) {
        self.prefix = prefix
        self.values = values
    }

    /// The variable `<prefix>name`, if set and not empty.
    public func string(_ name: String) -> String? {
        self.values[self.prefix + name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The variable `<prefix>name` as an integer; a value that is not one is refused by name.
    public func integer(_ name: String) throws -> Int? {
        guard let text = self.string(name) else { return nil }
        guard let value = Int(text) else { throw ValidationError("\(self.prefix)\(name) must be an integer") }
        return value
    }

    /// `KMS_ENDPOINT`, as the kms CLI reads it.
    var kmsEndpoint: String? { self.values["KMS_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } }
}

/// How a sidecar reaches kmsd and proves who it is, and its log level: the flags kms-k8s-plugin and
/// kms-agent share. Each may also be set as `<prefix>NAME` (`SidecarEnvironment`), which the
/// sidecar's `validate` applies with `resolve`.
public struct KMSConnectionOptions: ParsableArguments {
    /// host:port or tls://host:port.
    @Option(help: "kmsd: host:port or tls://host:port (…_ENDPOINT, else KMS_ENDPOINT).")
    public var endpoint: String?

    /// An AWS shared credentials file holding the access key.
    @Option(help: "An AWS shared credentials file with the sidecar's access key (…_CREDENTIALS_FILE).")
    public var credentialsFile: String?

    /// Its profile.
    @Option(help: "Its profile; default: default (…_PROFILE).")
    public var profile: String?

    /// PEM CAs that sign kmsd's certificate.
    @Option(help: "PEM bundle of the CAs that sign kmsd's certificate (…_CA_BUNDLE).")
    public var caBundle: String?

    /// A client certificate for mutual TLS (a SPIFFE SVID, say).
    @Option(help: "Client certificate (PEM; a SPIFFE SVID) for mutual TLS (…_CLIENT_CERTIFICATE).")
    public var clientCertificate: String?

    /// Its private key.
    @Option(help: "Its private key (PEM) (…_CLIENT_KEY).")
    public var clientKey: String?

    /// The log level.
    @Option(help: "trace, debug, info, notice, warning, error or critical (…_LOG_LEVEL). Default info.")
    public var logLevel: String?

    /// No flag given.
    public init() {}

    /// Fills what no flag gave from `environment`, then checks the set: credentials or a
    /// certificate, a certificate with its key, a known log level.
    public mutating func resolve(_ environment: SidecarEnvironment) throws {
        self.endpoint = self.endpoint ?? environment.string("ENDPOINT") ?? environment.kmsEndpoint
        self.credentialsFile = self.credentialsFile ?? environment.string("CREDENTIALS_FILE")
        self.profile = self.profile ?? environment.string("PROFILE")
        self.caBundle = self.caBundle ?? environment.string("CA_BUNDLE")
        self.clientCertificate = self.clientCertificate ?? environment.string("CLIENT_CERTIFICATE")
        self.clientKey = self.clientKey ?? environment.string("CLIENT_KEY")
        self.logLevel = self.logLevel ?? environment.string("LOG_LEVEL") ?? "info"
        guard self.credentialsFile != nil || self.clientCertificate != nil else {
            throw ValidationError("give --credentials-file (an access key) or --client-certificate and --client-key")
        }
        guard (self.clientCertificate == nil) == (self.clientKey == nil) else {
            throw ValidationError("--client-certificate and --client-key go together")
        }
        guard Logger.Level(rawValue: self.logLevel ?? "") != nil else {
            throw ValidationError("unknown --log-level '\(self.logLevel ?? "")'")
        }
    }

    /// Where kmsd is and the files to authenticate with, for a `ReloadingKMSClient`.
    public func source(_ configuration: KMSClient.Configuration) -> ReloadingKMSClient.Source {
        var source = ReloadingKMSClient.Source(
            endpoint: self.endpoint ?? KMSClientEnvironment.defaultEndpoint, configuration: configuration)
        source.credentialsFile = self.credentialsFile
        source.profile = self.profile
        source.caBundle = self.caBundle
        source.clientCertificate = self.clientCertificate
        source.clientKey = self.clientKey
        return source
    }

    /// Logging to standard error at the chosen level, and the sidecar's logger.
    public func bootstrapLogging(label: String) -> Logger {
        let level = Logger.Level(rawValue: self.logLevel ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}
