import KMSProto

/// GenerateDataKey and GenerateDataKeyWithoutPlaintext are one request but for the plaintext in
/// the answer: the request's type says which operation it is (its action, and so whether the
/// plaintext comes back), once, and the shared step reads the fields from the request itself.
protocol DataKeyRequest: Sendable {
    /// The operation this request type is, as authorized, audited and recorded as last use.
    static var use: KeyUse { get }
    var keyID: String { get }
    var hasNumberOfBytes: Bool { get }
    var numberOfBytes: Int32 { get }
    var hasKeySpec: Bool { get }
    var keySpec: KMSDataKeySpec { get }
    var encryptionContext: [String: String] { get }
    var grantTokens: [String] { get }
    var dryRun: Bool { get }
}

extension DataKeyRequest {
    /// Whether the answer carries the data key's plaintext (GenerateDataKey does).
    static var returnsPlaintext: Bool { Self.use == .generateDataKey }
}

extension KMSGenerateDataKeyRequest: DataKeyRequest {
    static var use: KeyUse { .generateDataKey }
}

extension KMSGenerateDataKeyWithoutPlaintextRequest: DataKeyRequest {
    static var use: KeyUse { .generateDataKeyWithoutPlaintext }
}

/// The same for GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.
protocol DataKeyPairRequest: Sendable {
    /// The operation this request type is.
    static var use: KeyUse { get }
    var keyID: String { get }
    var keyPairSpec: KMSDataKeyPairSpec { get }
    var encryptionContext: [String: String] { get }
    var grantTokens: [String] { get }
    var dryRun: Bool { get }
}

extension DataKeyPairRequest {
    /// Whether the answer carries the private key's plaintext (GenerateDataKeyPair does).
    static var returnsPlaintext: Bool { Self.use == .generateDataKeyPair }
}

extension KMSGenerateDataKeyPairRequest: DataKeyPairRequest {
    static var use: KeyUse { .generateDataKeyPair }
}

extension KMSGenerateDataKeyPairWithoutPlaintextRequest: DataKeyPairRequest {
    static var use: KeyUse { .generateDataKeyPairWithoutPlaintext }
}
