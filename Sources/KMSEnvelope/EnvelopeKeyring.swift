import Crypto

/// A message's data key and its encrypted copies, as a keyring made them.
public struct DataKeyMaterials: Sendable {
    /// The plaintext data key: as long as the suite says (`AlgorithmSuite.dataKeyLength`).
    public var dataKey: SymmetricKey
    /// One encrypted copy per key the message is encrypted for; the header carries them.
    public var encryptedDataKeys: [EncryptedDataKey]

    /// Materials for one message.
    public init(dataKey: SymmetricKey, encryptedDataKeys: [EncryptedDataKey]) {
        self.dataKey = dataKey
        self.encryptedDataKeys = encryptedDataKeys
    }
}

/// Makes and recovers data keys (the SDKs' keyring): `KMSKeyring` over our KMS; tests use keys in memory.
public protocol EnvelopeKeyring: Sendable {
    /// A new data key of the suite's length encrypted under every key of the keyring, bound to `encryptionContext`.
    func generateDataKey(suite: AlgorithmSuite, encryptionContext: [String: String]) async throws -> DataKeyMaterials

    /// The data key of a message, from the first of its encrypted copies this keyring can
    /// decrypt; throws `EnvelopeError.noDecryptableDataKey` when none.
    func decryptDataKey(
        suite: AlgorithmSuite, encryptionContext: [String: String], encryptedDataKeys: [EncryptedDataKey]
    ) async throws -> SymmetricKey
}
