/// What each key spec may be used for and with which algorithms, as AWS KMS allows. CreateKey,
/// DescribeKey, GetPublicKey and every cryptographic operation read these tables; nothing else
/// decides which combination is valid.
extension KeySpec {
    /// The specs this service creates keys of. SM2 (China regions only at AWS) and ML_DSA_44
    /// (swift-crypto has no ML-DSA-44) are refused with UnsupportedOperationException.
    public var isSupported: Bool {
        switch self {
        case .sm2, .mlDsa44: false
        default: true
        }
    }

    /// ML_DSA_44, ML_DSA_65 or ML_DSA_87.
    public var isMLDSA: Bool { self == .mlDsa44 || self == .mlDsa65 || self == .mlDsa87 }
    /// RSA_2048, RSA_3072 or RSA_4096.
    public var isRSA: Bool { self == .rsa2048 || self == .rsa3072 || self == .rsa4096 }
    /// One of the HMAC_* specs.
    public var isHMAC: Bool { self == .hmac224 || self == .hmac256 || self == .hmac384 || self == .hmac512 }
    /// An RSA, ECC, SM2 or ML-DSA spec: anything with a public key.
    public var isAsymmetric: Bool { self != .symmetricDefault && !self.isHMAC }

    /// The usages a key of this spec may be created with. CreateKey's KeyUsage defaults to
    /// ENCRYPT_DECRYPT whatever the spec, so an HMAC or ECC key must name its usage.
    public var allowedUsages: [KeyUsage] {
        switch self {
        case .symmetricDefault: [.encryptDecrypt]
        case .rsa2048, .rsa3072, .rsa4096: [.encryptDecrypt, .signVerify]
        case .eccNistP256, .eccNistP384, .eccNistP521: [.signVerify, .keyAgreement]
        case .eccSecgP256k1, .eccNistEdwards25519: [.signVerify]
        case .hmac224, .hmac256, .hmac384, .hmac512: [.generateVerifyMac]
        case .sm2: [.encryptDecrypt, .signVerify, .keyAgreement]
        case .mlDsa44, .mlDsa65, .mlDsa87: [.signVerify]
        }
    }

    /// The algorithms Encrypt and Decrypt accept on a key of this spec with `usage`; empty when none.
    public func encryptionAlgorithms(usage: KeyUsage) -> [EncryptionAlgorithm] {
        guard usage == .encryptDecrypt else { return [] }
        switch self {
        case .symmetricDefault: return [.symmetricDefault]
        case .rsa2048, .rsa3072, .rsa4096: return [.rsaesOaepSha1, .rsaesOaepSha256]
        default: return []
        }
    }

    /// The algorithms Sign and Verify accept on a key of this spec with `usage`; empty when none.
    public func signingAlgorithms(usage: KeyUsage) -> [SigningAlgorithm] {
        guard usage == .signVerify else { return [] }
        switch self {
        case .rsa2048, .rsa3072, .rsa4096:
            return [
                .rsassaPssSha256, .rsassaPssSha384, .rsassaPssSha512,
                .rsassaPkcs1V15Sha256, .rsassaPkcs1V15Sha384, .rsassaPkcs1V15Sha512,
            ]
        case .eccNistP256, .eccSecgP256k1: return [.ecdsaSha256]
        case .eccNistP384: return [.ecdsaSha384]
        case .eccNistP521: return [.ecdsaSha512]
        case .eccNistEdwards25519: return [.ed25519Sha512]
        case .mlDsa44, .mlDsa65, .mlDsa87: return [.mlDsaShake256]
        default: return []
        }
    }

    /// The one algorithm of an HMAC spec; empty for the others. Callers check the usage themselves.
    public var macAlgorithms: [MacAlgorithm] {
        switch self {
        case .hmac224: [.hmacSha224]
        case .hmac256: [.hmacSha256]
        case .hmac384: [.hmacSha384]
        case .hmac512: [.hmacSha512]
        default: []
        }
    }

    /// ECDH for a key with KEY_AGREEMENT usage, else none; CreateKey has already tied that usage to ECC specs.
    public func keyAgreementAlgorithms(usage: KeyUsage) -> [KeyAgreementAlgorithm] {
        usage == .keyAgreement ? [.ecdh] : []
    }

    /// The length of generated HMAC key material, and the lengths that may be imported.
    public var hmacKeyBytes: (generated: Int, importable: ClosedRange<Int>)? {
        switch self {
        case .hmac224: (28, 28...64)
        case .hmac256: (32, 32...64)
        case .hmac384: (48, 48...128)
        case .hmac512: (64, 64...128)
        default: nil
        }
    }

    /// The RSA modulus length in bytes.
    public var rsaModulusBytes: Int? {
        switch self {
        case .rsa2048: 256
        case .rsa3072: 384
        case .rsa4096: 512
        default: nil
        }
    }

    /// The largest plaintext RSAES-OAEP takes with this modulus and hash: k - 2·hLen - 2
    /// (RFC 8017 §7.1.1), which gives AWS's published 214/190, 342/318 and 470/446 bytes.
    public func maximumPlaintextBytes(_ algorithm: EncryptionAlgorithm) -> Int? {
        guard let k = self.rsaModulusBytes else { return nil }
        switch algorithm {
        case .rsaesOaepSha1: return k - 2 * 20 - 2
        case .rsaesOaepSha256: return k - 2 * 32 - 2
        default: return nil
        }
    }
}

extension KeyRecord {
    /// The grant operations that make sense on this key (CreateGrant refuses the others, as AWS
    /// does): its usage's cryptographic operations, plus DescribeKey, CreateGrant and RetireGrant.
    public var grantableOperations: Set<String> {
        var operations: Set<String> = ["DescribeKey", "CreateGrant", "RetireGrant"]
        switch self.usage {
        case .encryptDecrypt where self.spec == .symmetricDefault:
            operations.formUnion([
                "Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey",
                "GenerateDataKeyWithoutPlaintext",
                "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
            ])
        case .encryptDecrypt:
            operations.formUnion(["Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"])
        case .signVerify:
            operations.formUnion(["Sign", "Verify", "GetPublicKey"])
        case .generateVerifyMac:
            operations.formUnion(["GenerateMac", "VerifyMac"])
        case .keyAgreement:
            operations.formUnion(["DeriveSharedSecret", "GetPublicKey"])
        }
        return operations
    }
}

/// SigningAlgorithm as AWS names it.
public enum SigningAlgorithm: String, Sendable, CaseIterable, Codable {
    case rsassaPssSha256 = "RSASSA_PSS_SHA_256"
    case rsassaPssSha384 = "RSASSA_PSS_SHA_384"
    case rsassaPssSha512 = "RSASSA_PSS_SHA_512"
    case rsassaPkcs1V15Sha256 = "RSASSA_PKCS1_V1_5_SHA_256"
    case rsassaPkcs1V15Sha384 = "RSASSA_PKCS1_V1_5_SHA_384"
    case rsassaPkcs1V15Sha512 = "RSASSA_PKCS1_V1_5_SHA_512"
    case ecdsaSha256 = "ECDSA_SHA_256"
    case ecdsaSha384 = "ECDSA_SHA_384"
    case ecdsaSha512 = "ECDSA_SHA_512"
    case ed25519Sha512 = "ED25519_SHA_512"
    case ed25519PhSha512 = "ED25519_PH_SHA_512"
    case sm2dsa = "SM2DSA"
    case mlDsaShake256 = "ML_DSA_SHAKE_256"

    /// The digest a DIGEST message must be (its length in bytes); nil where DIGEST is not
    /// accepted (ED25519_SHA_512 signs the message itself).
    public var digestBytes: Int? {
        switch self {
        case .rsassaPssSha256, .rsassaPkcs1V15Sha256, .ecdsaSha256: 32
        case .rsassaPssSha384, .rsassaPkcs1V15Sha384, .ecdsaSha384: 48
        case .rsassaPssSha512, .rsassaPkcs1V15Sha512, .ecdsaSha512, .ed25519PhSha512: 64
        case .ed25519Sha512, .sm2dsa, .mlDsaShake256: nil
        }
    }
}

/// Sign and Verify's MessageType: whether `message` is the message itself or a digest of it.
public enum MessageType: String, Sendable, CaseIterable, Codable {
    case raw = "RAW"
    case digest = "DIGEST"
    case externalMu = "EXTERNAL_MU"
}

/// MacAlgorithm as AWS names it.
public enum MacAlgorithm: String, Sendable, CaseIterable, Codable {
    case hmacSha224 = "HMAC_SHA_224"
    case hmacSha256 = "HMAC_SHA_256"
    case hmacSha384 = "HMAC_SHA_384"
    case hmacSha512 = "HMAC_SHA_512"

    /// The tag length in bytes.
    public var macBytes: Int {
        switch self {
        case .hmacSha224: 28
        case .hmacSha256: 32
        case .hmacSha384: 48
        case .hmacSha512: 64
        }
    }
}

/// KeyAgreementAlgorithm as AWS names it.
public enum KeyAgreementAlgorithm: String, Sendable, CaseIterable, Codable {
    case ecdh = "ECDH"
}

/// GenerateDataKeyPair's KeyPairSpec: the asymmetric key specs, as key pairs handed out.
public enum DataKeyPairSpec: String, Sendable, CaseIterable, Codable {
    case rsa2048 = "RSA_2048"
    case rsa3072 = "RSA_3072"
    case rsa4096 = "RSA_4096"
    case eccNistP256 = "ECC_NIST_P256"
    case eccNistP384 = "ECC_NIST_P384"
    case eccNistP521 = "ECC_NIST_P521"
    case eccSecgP256k1 = "ECC_SECG_P256K1"
    case eccNistEdwards25519 = "ECC_NIST_EDWARDS25519"
    case sm2 = "SM2"

    /// The key spec of the same name.
    public var keySpec: KeySpec { KeySpec(rawValue: self.rawValue)! }
}

/// GetParametersForImport's WrappingAlgorithm.
public enum WrappingAlgorithm: String, Sendable, CaseIterable, Codable {
    case rsaesPkcs1V15 = "RSAES_PKCS1_V1_5"
    case rsaesOaepSha1 = "RSAES_OAEP_SHA_1"
    case rsaesOaepSha256 = "RSAES_OAEP_SHA_256"
    case rsaAesKeyWrapSha1 = "RSA_AES_KEY_WRAP_SHA_1"
    case rsaAesKeyWrapSha256 = "RSA_AES_KEY_WRAP_SHA_256"
    case sm2pke = "SM2PKE"
}

/// GetParametersForImport's WrappingKeySpec.
public enum WrappingKeySpec: String, Sendable, CaseIterable, Codable {
    case rsa2048 = "RSA_2048"
    case rsa3072 = "RSA_3072"
    case rsa4096 = "RSA_4096"
    case sm2 = "SM2"
}

/// Whether imported key material expires (ImportKeyMaterial's ExpirationModel).
public enum ExpirationModel: String, Sendable, CaseIterable, Codable {
    case keyMaterialExpires = "KEY_MATERIAL_EXPIRES"
    case keyMaterialDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE"
}
