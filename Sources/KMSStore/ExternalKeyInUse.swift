/// A key insert refused because another key of its custom key store is linked to the same
/// external key (XksKeyId): the unique index `kms_keys_xks_key` (Migration25), which holds where
/// CreateKey's earlier query cannot, against a concurrent CreateKey.
public struct ExternalKeyInUse: Error, Sendable, Hashable {
    /// The index whose violation this is.
    public static let index = "kms_keys_xks_key"

    /// The error.
    public init() {}
}
