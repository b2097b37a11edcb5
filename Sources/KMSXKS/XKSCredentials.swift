/// An access key id and its secret, as an XKS proxy is configured with them (and a KMS custom
/// key store's XksProxyAuthenticationCredential carries them).
public struct XKSCredentials: Sendable, Hashable, CustomStringConvertible {
    /// 20 to 30 characters of `A`-`Z` and `2`-`7` (`XKSLimits.isValidAccessKeyID`).
    public var accessKeyID: String
    /// The secret's UTF-8 bytes: kept out of `String` so that a description or a log line never shows it.
    public var secretAccessKey: [UInt8]

    /// Credentials from an id and a secret.
    public init(accessKeyID: String, secretAccessKey: some Sequence<UInt8>) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = Array(secretAccessKey)
    }

    /// The access key id only.
    public var description: String { "XKSCredentials(\(self.accessKeyID))" }
}
