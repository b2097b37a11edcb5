import KMSDomain

// The worker protocol's enums and the KMSDomain types they stand for: one switch per direction,
// so that a value added on either side fails to compile until it is mapped here.

extension WorkerKeySpec: WorkerDomainEnum {
    /// The value that stands for `domain`; never UNSPECIFIED.
    public init(_ domain: KeySpec) {
        switch domain {
        case .symmetricDefault: self = .symmetricDefault
        case .rsa2048: self = .rsa2048
        case .rsa3072: self = .rsa3072
        case .rsa4096: self = .rsa4096
        case .eccNistP256: self = .eccNistP256
        case .eccNistP384: self = .eccNistP384
        case .eccNistP521: self = .eccNistP521
        case .eccSecgP256k1: self = .eccSecgP256K1
        case .eccNistEdwards25519: self = .eccNistEdwards25519
        case .hmac224: self = .hmac224
        case .hmac256: self = .hmac256
        case .hmac384: self = .hmac384
        case .hmac512: self = .hmac512
        case .sm2: self = .sm2
        case .mlDsa44: self = .mlDsa44
        case .mlDsa65: self = .mlDsa65
        case .mlDsa87: self = .mlDsa87
        }
    }

    /// The domain value; nil for UNSPECIFIED and for a value this build does not know.
    public var domain: KeySpec? {
        switch self {
        case .symmetricDefault: .symmetricDefault
        case .rsa2048: .rsa2048
        case .rsa3072: .rsa3072
        case .rsa4096: .rsa4096
        case .eccNistP256: .eccNistP256
        case .eccNistP384: .eccNistP384
        case .eccNistP521: .eccNistP521
        case .eccSecgP256K1: .eccSecgP256k1
        case .eccNistEdwards25519: .eccNistEdwards25519
        case .hmac224: .hmac224
        case .hmac256: .hmac256
        case .hmac384: .hmac384
        case .hmac512: .hmac512
        case .sm2: .sm2
        case .mlDsa44: .mlDsa44
        case .mlDsa65: .mlDsa65
        case .mlDsa87: .mlDsa87
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}

extension WorkerEncryptionAlgorithm: WorkerDomainEnum {
    /// The value that stands for `domain`; never UNSPECIFIED.
    public init(_ domain: EncryptionAlgorithm) {
        switch domain {
        case .symmetricDefault: self = .symmetricDefault
        case .rsaesOaepSha1: self = .rsaesOaepSha1
        case .rsaesOaepSha256: self = .rsaesOaepSha256
        case .sm2pke: self = .sm2Pke
        }
    }

    /// The domain value; nil for UNSPECIFIED and for a value this build does not know.
    public var domain: EncryptionAlgorithm? {
        switch self {
        case .symmetricDefault: .symmetricDefault
        case .rsaesOaepSha1: .rsaesOaepSha1
        case .rsaesOaepSha256: .rsaesOaepSha256
        case .sm2Pke: .sm2pke
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}

extension WorkerSigningAlgorithm: WorkerDomainEnum {
    /// The value that stands for `domain`; never UNSPECIFIED.
    public init(_ domain: SigningAlgorithm) {
        switch domain {
        case .rsassaPssSha256: self = .rsassaPssSha256
        case .rsassaPssSha384: self = .rsassaPssSha384
        case .rsassaPssSha512: self = .rsassaPssSha512
        case .rsassaPkcs1V15Sha256: self = .rsassaPkcs1V15Sha256
        case .rsassaPkcs1V15Sha384: self = .rsassaPkcs1V15Sha384
        case .rsassaPkcs1V15Sha512: self = .rsassaPkcs1V15Sha512
        case .ecdsaSha256: self = .ecdsaSha256
        case .ecdsaSha384: self = .ecdsaSha384
        case .ecdsaSha512: self = .ecdsaSha512
        case .ed25519Sha512: self = .ed25519Sha512
        case .ed25519PhSha512: self = .ed25519PhSha512
        case .sm2dsa: self = .sm2Dsa
        case .mlDsaShake256: self = .mlDsaShake256
        }
    }

    /// The domain value; nil for UNSPECIFIED and for a value this build does not know.
    public var domain: SigningAlgorithm? {
        switch self {
        case .rsassaPssSha256: .rsassaPssSha256
        case .rsassaPssSha384: .rsassaPssSha384
        case .rsassaPssSha512: .rsassaPssSha512
        case .rsassaPkcs1V15Sha256: .rsassaPkcs1V15Sha256
        case .rsassaPkcs1V15Sha384: .rsassaPkcs1V15Sha384
        case .rsassaPkcs1V15Sha512: .rsassaPkcs1V15Sha512
        case .ecdsaSha256: .ecdsaSha256
        case .ecdsaSha384: .ecdsaSha384
        case .ecdsaSha512: .ecdsaSha512
        case .ed25519Sha512: .ed25519Sha512
        case .ed25519PhSha512: .ed25519PhSha512
        case .sm2Dsa: .sm2dsa
        case .mlDsaShake256: .mlDsaShake256
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}

extension WorkerMessageType: WorkerDomainEnum {
    /// The value that stands for `domain`; never UNSPECIFIED.
    public init(_ domain: MessageType) {
        switch domain {
        case .raw: self = .raw
        case .digest: self = .digest
        case .externalMu: self = .externalMu
        }
    }

    /// The domain value; nil for UNSPECIFIED and for a value this build does not know.
    public var domain: MessageType? {
        switch self {
        case .raw: .raw
        case .digest: .digest
        case .externalMu: .externalMu
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}

extension WorkerMacAlgorithm: WorkerDomainEnum {
    /// The value that stands for `domain`; never UNSPECIFIED.
    public init(_ domain: MacAlgorithm) {
        switch domain {
        case .hmacSha224: self = .hmacSha224
        case .hmacSha256: self = .hmacSha256
        case .hmacSha384: self = .hmacSha384
        case .hmacSha512: self = .hmacSha512
        }
    }

    /// The domain value; nil for UNSPECIFIED and for a value this build does not know.
    public var domain: MacAlgorithm? {
        switch self {
        case .hmacSha224: .hmacSha224
        case .hmacSha256: .hmacSha256
        case .hmacSha384: .hmacSha384
        case .hmacSha512: .hmacSha512
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}

extension WorkerDataKeyPairSpec: WorkerDomainEnum {
    /// The value that stands for `domain`; never UNSPECIFIED.
    public init(_ domain: DataKeyPairSpec) {
        switch domain {
        case .rsa2048: self = .rsa2048
        case .rsa3072: self = .rsa3072
        case .rsa4096: self = .rsa4096
        case .eccNistP256: self = .eccNistP256
        case .eccNistP384: self = .eccNistP384
        case .eccNistP521: self = .eccNistP521
        case .eccSecgP256k1: self = .eccSecgP256K1
        case .eccNistEdwards25519: self = .eccNistEdwards25519
        case .sm2: self = .sm2
        }
    }

    /// The domain value; nil for UNSPECIFIED and for a value this build does not know.
    public var domain: DataKeyPairSpec? {
        switch self {
        case .rsa2048: .rsa2048
        case .rsa3072: .rsa3072
        case .rsa4096: .rsa4096
        case .eccNistP256: .eccNistP256
        case .eccNistP384: .eccNistP384
        case .eccNistP521: .eccNistP521
        case .eccSecgP256K1: .eccSecgP256k1
        case .eccNistEdwards25519: .eccNistEdwards25519
        case .sm2: .sm2
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}

extension WorkerWrappingAlgorithm: WorkerDomainEnum {
    /// The value that stands for `domain`; never UNSPECIFIED.
    public init(_ domain: WrappingAlgorithm) {
        switch domain {
        case .rsaesPkcs1V15: self = .rsaesPkcs1V15
        case .rsaesOaepSha1: self = .rsaesOaepSha1
        case .rsaesOaepSha256: self = .rsaesOaepSha256
        case .rsaAesKeyWrapSha1: self = .rsaAesKeyWrapSha1
        case .rsaAesKeyWrapSha256: self = .rsaAesKeyWrapSha256
        case .sm2pke: self = .sm2Pke
        }
    }

    /// The domain value; nil for UNSPECIFIED and for a value this build does not know.
    public var domain: WrappingAlgorithm? {
        switch self {
        case .rsaesPkcs1V15: .rsaesPkcs1V15
        case .rsaesOaepSha1: .rsaesOaepSha1
        case .rsaesOaepSha256: .rsaesOaepSha256
        case .rsaAesKeyWrapSha1: .rsaAesKeyWrapSha1
        case .rsaAesKeyWrapSha256: .rsaAesKeyWrapSha256
        case .sm2Pke: .sm2pke
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}

extension WorkerWrappingKeySpec: WorkerDomainEnum {
    /// The value that stands for `domain`; never UNSPECIFIED.
    public init(_ domain: WrappingKeySpec) {
        switch domain {
        case .rsa2048: self = .rsa2048
        case .rsa3072: self = .rsa3072
        case .rsa4096: self = .rsa4096
        case .sm2: self = .sm2
        }
    }

    /// The domain value; nil for UNSPECIFIED and for a value this build does not know.
    public var domain: WrappingKeySpec? {
        switch self {
        case .rsa2048: .rsa2048
        case .rsa3072: .rsa3072
        case .rsa4096: .rsa4096
        case .sm2: .sm2
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}
