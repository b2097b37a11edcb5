import Crypto
import Foundation

/// The algorithm suites of the AWS Encryption SDK: AES-GCM with 12-byte IVs and 16-byte tags
/// over a key derived from (or, in the oldest suites, equal to) a data key of the suite's length.
/// New messages use the committing suites (message format 2); the format 1 suites are read for
/// compatibility with what older SDKs wrote, and written only under `forbidEncryptAllowDecrypt`.
public enum AlgorithmSuite: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    /// Message format 1, AES-128, the data key used as is: no key derivation, commitment or signature.
    case aes128GCMIV12Tag16 = 0x0014
    /// Message format 1, AES-192, the data key used as is: no key derivation, commitment or signature.
    case aes192GCMIV12Tag16 = 0x0046
    /// Message format 1, AES-256, the data key used as is: no key derivation, commitment or signature.
    case aes256GCMIV12Tag16 = 0x0078
    /// Message format 1, AES-128, HKDF-SHA256, no commitment, no signature.
    case aes128GCMIV12Tag16HKDFSHA256 = 0x0114
    /// Message format 1, AES-192, HKDF-SHA256, no commitment, no signature.
    case aes192GCMIV12Tag16HKDFSHA256 = 0x0146
    /// Message format 1, HKDF-SHA256, no commitment, no signature: read for compatibility.
    case aes256GCMIV12Tag16HKDFSHA256 = 0x0178
    /// Message format 1, AES-128, HKDF-SHA256, ECDSA P-256 signature, no commitment.
    case aes128GCMIV12Tag16HKDFSHA256ECDSAP256 = 0x0214
    /// Message format 1, AES-192, HKDF-SHA384, ECDSA P-384 signature, no commitment.
    case aes192GCMIV12Tag16HKDFSHA384ECDSAP384 = 0x0346
    /// Message format 1, HKDF-SHA384, ECDSA P-384 signature, no commitment: read for compatibility.
    case aes256GCMIV12Tag16HKDFSHA384ECDSAP384 = 0x0378
    /// Message format 2, HKDF-SHA512 with key commitment, no signature: the suite for streaming decrypt.
    case aes256GCMHKDFSHA512CommitKey = 0x0478
    /// Message format 2, HKDF-SHA512 with key commitment and an ECDSA P-384 signature: the default.
    case aes256GCMHKDFSHA512CommitKeyECDSAP384 = 0x0578

    /// The SDK's default suite.
    public static let `default` = AlgorithmSuite.aes256GCMHKDFSHA512CommitKeyECDSAP384

    /// The name the SDKs give the suite.
    public var description: String {
        switch self {
        case .aes128GCMIV12Tag16: "AES_128_GCM_IV12_TAG16"
        case .aes192GCMIV12Tag16: "AES_192_GCM_IV12_TAG16"
        case .aes256GCMIV12Tag16: "AES_256_GCM_IV12_TAG16"
        case .aes128GCMIV12Tag16HKDFSHA256: "AES_128_GCM_IV12_TAG16_HKDF_SHA256"
        case .aes192GCMIV12Tag16HKDFSHA256: "AES_192_GCM_IV12_TAG16_HKDF_SHA256"
        case .aes256GCMIV12Tag16HKDFSHA256: "AES_256_GCM_IV12_TAG16_HKDF_SHA256"
        case .aes128GCMIV12Tag16HKDFSHA256ECDSAP256: "AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256"
        case .aes192GCMIV12Tag16HKDFSHA384ECDSAP384: "AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384"
        case .aes256GCMIV12Tag16HKDFSHA384ECDSAP384: "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384"
        case .aes256GCMHKDFSHA512CommitKey: "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
        case .aes256GCMHKDFSHA512CommitKeyECDSAP384: "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"
        }
    }

    /// The suite of an SDK name, as `description` gives it.
    public init?(name: String) {
        guard let suite = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = suite
    }

    /// Whether messages carry a key commitment (message format 2) or not (format 1).
    public var isCommitting: Bool { self.rawValue >= 0x0478 }
    /// Whether messages end with an ECDSA signature over header and body.
    public var isSigned: Bool { self.signature != nil }
    /// The message format version that carries the suite.
    public var messageFormatVersion: UInt8 { self.isCommitting ? 2 : 1 }

    /// The length in bytes of the suite's data key (and of its AES key): 16, 24 or 32.
    public var dataKeyLength: Int {
        switch self {
        case .aes128GCMIV12Tag16, .aes128GCMIV12Tag16HKDFSHA256, .aes128GCMIV12Tag16HKDFSHA256ECDSAP256: 16
        case .aes192GCMIV12Tag16, .aes192GCMIV12Tag16HKDFSHA256, .aes192GCMIV12Tag16HKDFSHA384ECDSAP384: 24
        default: 32
        }
    }

    /// The curve (and with it the hash) of a signed suite's ECDSA signature.
    enum Signature: Sendable {
        /// P-256 over SHA-256.
        case p256
        /// P-384 over SHA-384.
        case p384
    }

    var signature: Signature? {
        switch self {
        case .aes128GCMIV12Tag16HKDFSHA256ECDSAP256: .p256
        case .aes192GCMIV12Tag16HKDFSHA384ECDSAP384, .aes256GCMIV12Tag16HKDFSHA384ECDSAP384,
            .aes256GCMHKDFSHA512CommitKeyECDSAP384:
            .p384
        default: nil
        }
    }

    static let ivLength = 12
    static let tagLength = 16
    static let commitmentLength = 32

    var messageIDLength: Int { self.isCommitting ? 32 : 16 }

    /// The key the header and frames are encrypted with and, for committing suites, the
    /// commitment stored in the header (algorithm-suites.md, transitive-requirements.md).
    func deriveKeys(dataKey: SymmetricKey, messageID: [UInt8]) -> (encryption: SymmetricKey, commitment: [UInt8]?) {
        var info = ByteWriter()
        info.append(self.rawValue)
        switch self {
        case .aes128GCMIV12Tag16, .aes192GCMIV12Tag16, .aes256GCMIV12Tag16:
            // No key derivation: these suites encrypt with the data key itself.
            return (dataKey, nil)
        case .aes128GCMIV12Tag16HKDFSHA256, .aes192GCMIV12Tag16HKDFSHA256, .aes256GCMIV12Tag16HKDFSHA256,
            .aes128GCMIV12Tag16HKDFSHA256ECDSAP256:
            info.append(messageID)
            let key = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: dataKey, salt: [UInt8](repeating: 0, count: SHA256.byteCount), info: info.bytes,
                outputByteCount: self.dataKeyLength)
            return (key, nil)
        case .aes192GCMIV12Tag16HKDFSHA384ECDSAP384, .aes256GCMIV12Tag16HKDFSHA384ECDSAP384:
            info.append(messageID)
            let key = HKDF<SHA384>.deriveKey(
                inputKeyMaterial: dataKey, salt: [UInt8](repeating: 0, count: SHA384.byteCount), info: info.bytes,
                outputByteCount: self.dataKeyLength)
            return (key, nil)
        case .aes256GCMHKDFSHA512CommitKey, .aes256GCMHKDFSHA512CommitKeyECDSAP384:
            // One extract, two expands, as the specification suggests.
            let pseudorandomKey = HKDF<SHA512>.extract(inputKeyMaterial: dataKey, salt: messageID)
            info.append(Array("DERIVEKEY".utf8))
            let key = HKDF<SHA512>.expand(
                pseudoRandomKey: pseudorandomKey, info: info.bytes, outputByteCount: self.dataKeyLength)
            let commitment = HKDF<SHA512>.expand(
                pseudoRandomKey: pseudorandomKey, info: Array("COMMITKEY".utf8), outputByteCount: Self.commitmentLength)
            return (key, commitment.withUnsafeBytes { Array($0) })
        }
    }
}

/// Which suites encrypt uses and decrypt accepts, as the SDKs' commitment policy says.
public enum CommitmentPolicy: String, Sendable, CaseIterable {
    /// Encrypt with committing suites only; decrypt only messages with a key commitment (the SDKs' default).
    case requireEncryptRequireDecrypt = "require-encrypt-require-decrypt"
    /// Encrypt with committing suites only; also decrypt format 1 messages, which have no commitment.
    case requireEncryptAllowDecrypt = "require-encrypt-allow-decrypt"
    /// Encrypt with format 1 suites only (for readers that predate commitment); decrypt both.
    case forbidEncryptAllowDecrypt = "forbid-encrypt-allow-decrypt"

    func allowsEncrypt(_ suite: AlgorithmSuite) -> Bool {
        self == .forbidEncryptAllowDecrypt ? !suite.isCommitting : suite.isCommitting
    }

    func allowsDecrypt(_ suite: AlgorithmSuite) -> Bool {
        self != .requireEncryptRequireDecrypt || suite.isCommitting
    }
}
