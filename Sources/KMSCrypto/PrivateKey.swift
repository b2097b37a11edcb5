import CKMSOpenSSL
import KMSDomain

/// An asymmetric private key held by kms-cryptod: an EVP_PKEY (RSA, EC, Ed25519; safe to use
/// from many threads at once: each operation makes its own EVP_PKEY_CTX) or a swift-crypto
/// ML-DSA key (ML_DSA_65, ML_DSA_87; a value type, immutable).
public final class PrivateKey: @unchecked Sendable {
    /// The spec the key was generated or parsed as.
    public let spec: KeySpec
    /// The public half, for GetPublicKey, Verify and Encrypt.
    public let publicKey: PublicKey
    let backing: Backing
    /// A NIST curve's key as swift-crypto holds it, for ECDSA (NISTCurveECDSA says why); nil
    /// for every other spec.
    let ecdsa: NISTCurveECDSA.SigningKey?

    /// Which library holds the key.
    enum Backing: Sendable {
        case openSSL(OpenSSLKey)
        case mlDsa(MLDSAPrivateKey)
    }

    /// DER SubjectPublicKeyInfo, as AWS GetPublicKey returns it (named-curve OIDs for EC).
    public var publicKeyDER: [UInt8] { publicKey.der }

    /// RSA_2048/3072/4096 (e=65537), ECC_NIST_P256/P384/P521, ECC_SECG_P256K1,
    /// ECC_NIST_EDWARDS25519, ML_DSA_65, ML_DSA_87. Other specs: KMSError(.unsupportedOperation, ...).
    /// RSA generation takes from tens of milliseconds to seconds: never call it on an event loop.
    public static func generate(_ spec: KeySpec) throws(KMSError) -> PrivateKey {
        if spec.isMLDSA {
            let key = try MLDSAPrivateKey.generate(spec)
            try key.checkPairwiseConsistency()
            return PrivateKey(mlDsa: key, spec: spec)
        }
        guard let shape = spec.keyShape else {
            throw KMSError(.unsupportedOperation, "cannot generate a \(spec.rawValue) key pair")
        }
        let pointer =
            switch shape.kind {
            case KMS_KIND_RSA: kms_pkey_generate_rsa(shape.param)
            case KMS_KIND_EC: kms_pkey_generate_ec(shape.param)
            default: kms_pkey_generate_ed25519()
            }
        guard let pointer else { throw .internalFailure("key pair generation failed") }
        return PrivateKey(key: OpenSSLKey(pointer), spec: spec)
    }

    /// Parses a PKCS#8 DER PrivateKeyInfo and checks it is a key of `spec` (type, curve or
    /// modulus size) whose public half matches its private half; otherwise
    /// KMSError(.incorrectKeyMaterial, ...) (this is also how imported asymmetric material is
    /// checked). ML-DSA keys: the seed form of RFC 9881 alone (MLDSAEncoding). A spec that is
    /// not asymmetric: KMSError(.unsupportedOperation, ...).
    public convenience init(pkcs8DER: [UInt8], spec: KeySpec) throws(KMSError) {
        if spec.isMLDSA {
            var seed = try MLDSAEncoding.seed(pkcs8: pkcs8DER, spec: spec)
            defer { zeroize(&seed) }
            let key = try MLDSAPrivateKey(seed: seed, spec: spec)
            try key.checkPairwiseConsistency()
            self.init(mlDsa: key, spec: spec)
            return
        }
        guard let expected = spec.keyShape else {
            throw KMSError(.unsupportedOperation, "\(spec.rawValue) is not an asymmetric key spec")
        }
        let parsed = pkcs8DER.withUnsafeBufferPointer { kms_pkey_from_pkcs8($0.baseAddress, $0.count) }
        guard let parsed else {
            throw KMSError(
                .incorrectKeyMaterial,
                "the key material is not a DER PKCS#8 private key (PrivateKeyInfo; for a PKCS#1 or SEC1 key: openssl "
                    + "pkcs8 -topk8 -nocrypt -outform DER)"
            )
        }
        let key = OpenSSLKey(parsed)
        guard let shape = key.shape, shape == expected else {
            throw KMSError(
                .incorrectKeyMaterial,
                "the key material is \(key.shape.map { "an \($0.name) key" } ?? "a key of an unsupported kind"), not "
                    + "a \(spec.rawValue) key"
            )
        }
        self.init(key: key, spec: spec)
    }

    /// `key` must be a key of `spec`.
    private init(key: OpenSSLKey, spec: KeySpec) {
        self.spec = spec
        self.backing = .openSSL(key)
        self.publicKey = PublicKey(key: Self.publicHalf(of: key), spec: spec)
        self.ecdsa = NISTCurveECDSA.SigningKey(key, spec: spec)
    }

    /// `key` must be a key of `spec`.
    private init(mlDsa key: MLDSAPrivateKey, spec: KeySpec) {
        self.spec = spec
        self.backing = .mlDsa(key)
        self.publicKey = PublicKey(mlDsa: key.publicKey, spec: spec)
        self.ecdsa = nil
    }

    /// The EVP_PKEY of an RSA, EC or Ed25519 key. Callers have checked the spec suits their
    /// operation, so an ML-DSA key here is a usage error, not a crash.
    func openSSLKey() throws(KMSError) -> OpenSSLKey {
        guard case .openSSL(let key) = backing else {
            throw KMSError(.invalidKeyUsage, "a \(spec.rawValue) key cannot do this operation")
        }
        return key
    }

    /// A PublicKey of its own, so that handing out `publicKey` never hands out the private key.
    private static func publicHalf(of key: OpenSSLKey) -> OpenSSLKey {
        guard let parsed = OpenSSLKey.publicKey(spki: key.subjectPublicKeyInfo()) else {
            preconditionFailure("OpenSSL could not parse the public key it just encoded")
        }
        return parsed
    }

    /// The PKCS#8 DER encoding, handed to `body` and zeroed afterwards (the stored form, and
    /// GenerateDataKeyPair's PrivateKeyPlaintext). ML-DSA keys: the seed form of RFC 9881.
    public func withPKCS8DER<R>(_ body: ([UInt8]) throws -> R) rethrows -> R {
        var der: [UInt8]
        switch backing {
        case .openSSL(let key): der = key.pkcs8()
        case .mlDsa(let key): der = key.withSeed { MLDSAEncoding.pkcs8(seed: $0, spec: spec) }
        }
        defer { zeroize(&der) }
        return try body(der)
    }
}
