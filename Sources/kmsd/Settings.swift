import Foundation

/// kmsd's settings as read from a JSON file; every field optional. Flags override the
/// environment (KMSD_<NAME>), which overrides the file, which overrides the defaults.
struct SettingsFile: Decodable {
    var listen: String?
    var databaseURL: String?
    /// A file holding the database URL (`--database-url-file`).
    var databaseURLFile: String?
    var workerSocket: String?
    var partition: String?
    var region: String?
    var regions: [String]?
    var account: String?
    var maxFrameLength: Int?
    var workerConnections: Int?
    var eventLoopThreads: Int?
    var workerTimeoutSeconds: Int?
    var databaseConnections: Int?
    var cacheSeconds: Int?
    var reaperIntervalSeconds: Int?
    var rotationIntervalSeconds: Int?
    var lastUseFlushSeconds: Int?
    var usageFlushSeconds: Int?
    var auditTimeoutSeconds: Int?
    var requestTimeoutSeconds: Int?
    var auditChain: String?
    var auditCheckpointMs: Int?
    var auditAdoptAfterSeconds: Int?
    var rewrapIntervalSeconds: Int?
    var logLevel: String?
    var tlsCertificate: String?
    var tlsKey: String?
    var tlsClientCA: String?
    /// PEM CAs for external key store proxies' certificates (`--xks-ca-file`).
    var xksCAFile: String?
    /// URI SAN → principal ARN, for client certificates under mutual TLS.
    var certificatePrincipals: [String: String]?
    var insecureDevNoAuth: Bool?
    var awsJSONListen: String?
    /// Host names the AWS JSON API answers to (`--aws-json-host`).
    var awsJSONHosts: [String]?
    /// The uid kms-cryptod must run as (`--worker-uid`).
    var workerUID: UInt32?
    var metricsListen: String?
    var maxRequestsPerPrincipal: String?
    var maxRequestsPerSource: String?
    var shutdownDelaySeconds: Int?
    var shutdownGraceSeconds: Int?
    /// Region → transport key (base64) of peer deployments (`--peer-region`).
    var peerRegions: [String: String]?
    var importFromPeers: Bool?
    var peerReplicationIntervalMs: Int?

    static func load(_ path: String?) throws -> SettingsFile {
        guard let path else { return SettingsFile() }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(SettingsFile.self, from: data)
    }
}

/// Reads `KMSD_<NAME>` from the environment.
func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment["KMSD_\(name)"].flatMap { $0.isEmpty ? nil : $0 }
}
