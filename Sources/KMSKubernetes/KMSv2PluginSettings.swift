/// What the KMS v2 plugin wraps the apiserver's DEK seeds under, and how.
public struct KMSv2PluginSettings: Sendable {
    /// The key new seeds are wrapped under: key id, key ARN, alias name or alias ARN.
    public var keyID: String
    /// Bound into every ciphertext's encryption context: a ciphertext copied from another
    /// cluster's etcd does not decrypt here.
    public var clusterName: String
    /// Further keys (ARNs) whose ciphertexts are decrypted, for a cluster that moved to a new
    /// key and has not re-encrypted everything yet. The key a ciphertext names in its
    /// annotations must be one of these or the current key: a tampered etcd cannot make the
    /// plugin decrypt under any other key its principal may use.
    public var decryptKeyARNs: [String] = []
    /// The domain of the annotations' keys (fully qualified, as the apiserver requires).
    public var annotationDomain = "kms-plugin.internal"
    /// How long a Status answer is reused: the end-to-end check behind it costs three calls.
    public var statusLifetime: Duration = .seconds(5)
    /// The most a call to kmsd may take; under the apiserver's own timeout (3 s by default).
    public var callTimeout: Duration = .seconds(2)

    /// Settings for `keyID` in cluster `clusterName`; the rest default.
    public init(keyID: String, clusterName: String) {
        self.keyID = keyID
        self.clusterName = clusterName
    }

    /// The encryption context of every ciphertext: `purpose` tells seeds from health probes.
    func context(purpose: String) -> [String: String] {
        ["kubernetes-cluster": self.clusterName, "purpose": purpose]
    }

    /// Annotation keys: the format version and the key a ciphertext is under.
    var versionAnnotation: String { "version.\(self.annotationDomain)" }
    var keyAnnotation: String { "key-arn.\(self.annotationDomain)" }

    /// The one format version so far.
    static let formatVersion = "1"

    /// Whether `domain` is a DNS subdomain (RFC 1123) the apiserver accepts in annotation keys
    /// (with the longest label prefix, "version.", added).
    public static func isValidAnnotationDomain(_ domain: String) -> Bool {
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard domain.utf8.count + "version.".utf8.count <= 253, labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            let bytes = Array(label.utf8)
            guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-")
            else { return false }
            return bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
        }
    }
}
