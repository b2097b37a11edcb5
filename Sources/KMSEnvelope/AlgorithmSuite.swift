import Crypto
import Foundation

/// The algorithm suites of the AWS Encryption SDK this library writes or reads. All use
/// AES-256-GCM with 12-byte IVs and 16-byte tags over a key derived from a 32-byte data key.
public enum AlgorithmSuite: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    /// Message format 1, HKDF-SHA256, no commitment, no signature: read for compatibility.
    case aes256GCMIV12Tag16HKDFSHA256 = 0x0178
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
        case .aes256GCMIV12Tag16HKDFSHA256: "AES_256_GCM_IV12_TAG16_HKDF_SHA256"
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
    /// Whether messages end with an ECDSA P-384 signature over header and body.
    public var isSigned: Bool {
        self == .aes256GCMIV12Tag16HKDFSHA384ECDSAP384 || self == .aes256GCMHKDFSHA512CommitKeyECDSAP384
    }
    /// The message format version that carries the suite.
    public var messageFormatVersion: UInt8 { self.isCommitting ? 2 : 1 }

    static let dataKeyLength = 32
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
        case .aes256GCMIV12Tag16HKDFSHA256:
            info.append(messageID)
            let key = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: dataKey, salt: [UInt8](repeating: 0, count: SHA256.byteCount), info: info.bytes,
                outputByteCount: Self.dataKeyLength)
            return (key, nil)
        case .aes256GCMIV12Tag16HKDFSHA384ECDSAP384:
            info.append(messageID)
            let key = HKDF<SHA384>.deriveKey(
                inputKeyMaterial: dataKey, salt: [UInt8](repeating: 0, count: SHA384.byteCount), info: info.bytes,
                outputByteCount: Self.dataKeyLength)
            return (key, nil)
        case .aes256GCMHKDFSHA512CommitKey, .aes256GCMHKDFSHA512CommitKeyECDSAP384:
            // One extract, two expands, as the specification suggests.
            let pseudorandomKey = HKDF<SHA512>.extract(inputKeyMaterial: dataKey, salt: messageID)
            info.append(Array("DERIVEKEY".utf8))
            let key = HKDF<SHA512>.expand(
                pseudoRandomKey: pseudorandomKey, info: info.bytes, outputByteCount: Self.dataKeyLength)
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
