import Foundation
import KMSXKS

/// kms-xks-proxy's configuration file (JSON): the XKS side (URI path, access keys, key
/// mapping, TLS) and what GetHealthStatus reports. kmsd's address and the proxy's own kmsd
/// credentials are flags and the usual environment (KMSClientEnvironment), not in here.
///
///     {
///       "uriPath": "/tenant-a/kms/xks/v1",
///       "regions": ["us-east-1"],
///       "credentials": [{"accessKeyId": "AKXKS...", "secretAccessKey": "..."}],
///       "keys": {"orders-key": "alias/orders", "billing": "1234abcd-..."},
///       "passThroughKeyIds": false,
///       "tls": {"certificate": "server.pem", "privateKey": "server.key", "clientCA": "kms-ca.pem",
///               "clientSubjects": ["cks.kms.us-east-1.amazonaws.com"]},
///       "healthCheckKey": "alias/xks-health",
///       "healthCheckCacheSeconds": 5,
///       "fleetSize": 2
///     }
///
/// The file holds secrets, so it must not be readable by group or others (as kms-cryptod's keyring).
/// Reloaded when it changes (SIGHUP, or kms-xks-proxy's periodic look; `XKSProxyService.reload`):
/// all but `tls` takes effect without a restart.
public struct XKSProxyConfiguration: Codable, Sendable {
    /// One access key the proxy accepts; two at once let a caller rotate without a pause.
    public struct Credential: Codable, Sendable {
        /// 20 to 30 characters of `A`-`Z` and `2`-`7`.
        public var accessKeyId: String
        /// At least 43 characters: a base64 encoding of 32 random bytes, as the spec suggests.
        public var secretAccessKey: String
        /// A credential from its parts.
        public init(accessKeyId: String, secretAccessKey: String) {
            self.accessKeyId = accessKeyId
            self.secretAccessKey = secretAccessKey
        }
    }

    /// The server certificate and, for mutual TLS, the CA a client certificate must chain to.
    public struct TLS: Codable, Sendable, Equatable {
        /// PEM certificate chain, leaf first.
        public var certificate: String
        /// PEM private key of the leaf.
        public var privateKey: String
        /// PEM CAs; set, every connection must present a certificate issued by one of them.
        public var clientCA: String?
        /// With `clientCA`: the names (subject CN or DNS subject alternative name) a client
        /// certificate must carry, `*` standing for one whole label. Default: what AWS KMS presents
        /// in the configured regions, `cks.kms.<region>.amazonaws.com` (any region without `regions`).
        public var clientSubjects: [String]?
        /// Paths from their parts.
        public init(certificate: String, privateKey: String, clientCA: String? = nil, clientSubjects: [String]? = nil) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.clientCA = clientCA
            self.clientSubjects = clientSubjects
        }
    }

    /// `[/prefix]/kms/xks/v1`: the XksProxyUriPath callers are configured with.
    public var uriPath: String
    /// The regions a signature's credential scope may name; empty accepts any.
    public var regions: [String]?
    /// The access keys whose signatures are accepted.
    public var credentials: [Credential]
    /// XKS key id → our key (id, ARN, alias name or alias ARN).
    public var keys: [String: String]?
    /// Whether an XKS key id that is one of our key ids (a UUID) names that key without a
    /// `keys` entry. Off by default: the mapping is then the whole list of what is exposed.
    public var passThroughKeyIds: Bool?
    /// Without it the proxy refuses to start: the API is HTTPS only.
    public var tls: TLS
    /// What GetHealthStatus reports as xksProxyFleetSize (default 1).
    public var fleetSize: Int?
    /// Our key (id, ARN, alias name or alias ARN) GetHealthStatus encrypts with to know that kmsd
    /// and kms-cryptod work; default: the key of the first of `keys` by XKS key id. The spec asks
    /// for a test key of its own, which need not be exposed in `keys`: its calls then never mix
    /// with a KMS key's in kmsd's audit trail.
    public var healthCheckKey: String?
    /// How long a health check's result is answered again before another is made (default 5,
    /// at most 60: the spec's bound on a cached result's age).
    public var healthCheckCacheSeconds: Int?

    /// A configuration from its parts.
    public init(
        uriPath: String, regions: [String]? = nil, credentials: [Credential], keys: [String: String]? = nil,
        passThroughKeyIds: Bool? = nil, tls: TLS, fleetSize: Int? = nil, healthCheckKey: String? = nil,
        healthCheckCacheSeconds: Int? = nil
    ) {
        self.uriPath = uriPath
        self.regions = regions
        self.credentials = credentials
        self.keys = keys
        self.passThroughKeyIds = passThroughKeyIds
        self.tls = tls
        self.fleetSize = fleetSize
        self.healthCheckKey = healthCheckKey
        self.healthCheckCacheSeconds = healthCheckCacheSeconds
    }

    /// Reads and checks the file at `path`.
    public static func load(path: String) throws -> XKSProxyConfiguration {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw XKSProxyConfigurationError(
                "\(path) holds secret access keys: make it readable by its owner only (chmod 600)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let configuration: XKSProxyConfiguration
        do {
            configuration = try JSONDecoder().decode(XKSProxyConfiguration.self, from: data)
        } catch {
            // Where and what kind, never the value: the file holds secrets and this is logged.
            throw XKSProxyConfigurationError("\(path) is not a valid configuration: \(XKSClient.describe(error))")
        }
        try configuration.validate()
        return configuration
    }

    /// The checks `load` makes: a valid URI path, at least one well-formed access key, valid key ids.
    public func validate() throws {
        guard XKSLimits.isValidURIPath(self.uriPath) else {
            throw XKSProxyConfigurationError(
                "uriPath must be [/prefix]/kms/xks/v1, at most 128 letters, digits, '/', '-' or '_'")
        }
        guard !self.credentials.isEmpty else { throw XKSProxyConfigurationError("credentials must not be empty") }
        var seen = Set<String>()
        for credential in self.credentials {
            guard XKSLimits.isValidAccessKeyID(credential.accessKeyId) else {
                throw XKSProxyConfigurationError(
                    "access key id '\(credential.accessKeyId)' is not 20 to 30 characters of A-Z and 2-7")
            }
            guard credential.secretAccessKey.utf8.count >= 32 else {
                throw XKSProxyConfigurationError(
                    "the secret of \(credential.accessKeyId) is shorter than 32 characters "
                        + "(use openssl rand -base64 32)")
            }
            guard seen.insert(credential.accessKeyId).inserted else {
                throw XKSProxyConfigurationError("access key id \(credential.accessKeyId) appears twice")
            }
        }
        for (id, target) in self.keys ?? [:] {
            guard XKSLimits.isValidKeyID(id) else {
                throw XKSProxyConfigurationError("'\(id)' is not an XKS key id (1 to 128 of A-Z a-z 0-9 - . _)")
            }
            guard !target.isEmpty else { throw XKSProxyConfigurationError("key '\(id)' maps to nothing") }
        }
        if let fleetSize, fleetSize < 1 { throw XKSProxyConfigurationError("fleetSize must be at least 1") }
        if let subjects = self.tls.clientSubjects {
            guard !subjects.isEmpty, subjects.allSatisfy({ !$0.isEmpty }) else {
                throw XKSProxyConfigurationError("tls.clientSubjects must name at least one subject")
            }
        }
        if let key = self.healthCheckKey, key.isEmpty {
            throw XKSProxyConfigurationError("healthCheckKey must name a key")
        }
        if let seconds = self.healthCheckCacheSeconds, !(0...60).contains(seconds) {
            throw XKSProxyConfigurationError("healthCheckCacheSeconds must be 0 to 60")
        }
    }

    /// The names a client certificate may carry under mutual TLS (see `TLS.clientSubjects`).
    public var allowedClientSubjects: [String] {
        if let subjects = self.tls.clientSubjects { return subjects }
        let regions = self.regions ?? []
        return regions.isEmpty ? ["cks.kms.*.amazonaws.com"] : regions.map { "cks.kms.\($0).amazonaws.com" }
    }

    /// The key a health check encrypts with: `healthCheckKey`, else the first mapped key's, if any.
    public var healthCheckTarget: String? {
        self.healthCheckKey ?? self.keys?.min { $0.key < $1.key }?.value
    }

    /// Our key reference for an XKS key id, or nil when the id names nothing exposed.
    public func keyReference(for xksKeyID: String) -> String? {
        if let target = self.keys?[xksKeyID] { return target }
        if self.passThroughKeyIds == true, UUID(uuidString: xksKeyID) != nil { return xksKeyID.lowercased() }
        return nil
    }
}

/// A configuration that cannot be used, and why.
public struct XKSProxyConfigurationError: Error, CustomStringConvertible {
    /// Why.
    public let description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}
