/// Why a message could not be made or read. No case carries plaintext or key material.
public enum EnvelopeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not a message of the format: truncated, a field out of range, bytes after the end.
    case malformedMessage(String)
    /// A version, algorithm suite or content type this library does not read, or that the
    /// commitment policy forbids.
    case unsupported(String)
    /// A header or frame tag, the key commitment or the signature does not verify.
    case authenticationFailed(String)
    /// More encrypted data keys than the configured maximum.
    case tooManyEncryptedDataKeys(count: Int, maximum: Int)
    /// No encrypted data key of the message could be decrypted by the keyring.
    case noDecryptableDataKey(String)
    /// An encryption context the format cannot carry (a reserved key, too long once serialized).
    case invalidEncryptionContext(String)
    /// A signed message's plaintext outgrew the buffer that holds it until the signature verifies.
    case signedPlaintextTooLarge(limit: Int)
    /// A setting or argument out of range.
    case invalidArgument(String)
    /// The KMS refused a call or could not be reached (its error code and message).
    case kms(code: String, message: String)

    /// One line for logs and the CLI.
    public var description: String {
        switch self {
        case .malformedMessage(let message): "malformed message: \(message)"
        case .unsupported(let message): "unsupported: \(message)"
        case .authenticationFailed(let message): "authentication failed: \(message)"
        case .tooManyEncryptedDataKeys(let count, let maximum):
            "the message has \(count) encrypted data keys, more than the maximum of \(maximum)"
        case .noDecryptableDataKey(let message): "no encrypted data key could be decrypted: \(message)"
        case .invalidEncryptionContext(let message): "invalid encryption context: \(message)"
        case .signedPlaintextTooLarge(let limit):
            "a signed message's plaintext is held until its signature verifies, and this one exceeds "
                + "\(limit) bytes: raise the bound, or encrypt with the unsigned suite "
                + "AES_256_GCM_HKDF_SHA512_COMMIT_KEY to stream"
        case .invalidArgument(let message): "invalid argument: \(message)"
        case .kms(let code, let message): "\(code): \(message)"
        }
    }
}
