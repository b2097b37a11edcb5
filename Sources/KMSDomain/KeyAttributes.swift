/// KeySpec as AWS names it. Only SYMMETRIC_DEFAULT keys can be created today; the other specs
/// are known so that requests naming them get UnsupportedOperationException, not a parse error.
public enum KeySpec: String, Sendable, CaseIterable, Codable {
    case symmetricDefault = "SYMMETRIC_DEFAULT"
    case rsa2048 = "RSA_2048"
    case rsa3072 = "RSA_3072"
    case rsa4096 = "RSA_4096"
    case eccNistP256 = "ECC_NIST_P256"
    case eccNistP384 = "ECC_NIST_P384"
    case eccNistP521 = "ECC_NIST_P521"
    case eccSecgP256k1 = "ECC_SECG_P256K1"
    case eccNistEdwards25519 = "ECC_NIST_EDWARDS25519"
    case hmac224 = "HMAC_224"
    case hmac256 = "HMAC_256"
    case hmac384 = "HMAC_384"
    case hmac512 = "HMAC_512"
    case sm2 = "SM2"
    case mlDsa44 = "ML_DSA_44"
    case mlDsa65 = "ML_DSA_65"
    case mlDsa87 = "ML_DSA_87"
}

/// KeyUsage as AWS names it: which family of operations a key serves, fixed at creation.
public enum KeyUsage: String, Sendable, CaseIterable, Codable {
    case signVerify = "SIGN_VERIFY"
    case encryptDecrypt = "ENCRYPT_DECRYPT"
    case generateVerifyMac = "GENERATE_VERIFY_MAC"
    case keyAgreement = "KEY_AGREEMENT"
}

/// Where a key's material came from, as AWS names it; only AWS_KMS and EXTERNAL keys can be created here.
public enum Origin: String, Sendable, CaseIterable, Codable {
    case awsKMS = "AWS_KMS"
    case external = "EXTERNAL"
    case awsCloudHSM = "AWS_CLOUDHSM"
    case externalKeyStore = "EXTERNAL_KEY_STORE"
}

/// Whether AWS (an `alias/aws/...` key made on first use) or the customer manages the key.
public enum KeyManager: String, Sendable, CaseIterable, Codable {
    case aws = "AWS"
    case customer = "CUSTOMER"
}

/// EncryptionAlgorithm as AWS names it; which ones a key accepts is `KeySpec.encryptionAlgorithms(usage:)`.
public enum EncryptionAlgorithm: String, Sendable, CaseIterable, Codable {
    case symmetricDefault = "SYMMETRIC_DEFAULT"
    case rsaesOaepSha1 = "RSAES_OAEP_SHA_1"
    case rsaesOaepSha256 = "RSAES_OAEP_SHA_256"
    case sm2pke = "SM2PKE"
}
