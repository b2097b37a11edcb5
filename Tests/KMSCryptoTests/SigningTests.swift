import Crypto
import KMSCrypto
import KMSDomain
import Testing

@Suite struct SigningTests {
    let message = Array("the quick brown fox signs a message".utf8)

    static func digest(_ message: [UInt8], for algorithm: SigningAlgorithm) -> [UInt8] {
        switch algorithm.digestBytes {
        case 32: Array(SHA256.hash(data: message))
        case 48: Array(SHA384.hash(data: message))
        default: Array(SHA512.hash(data: message))
        }
    }

    @Test(arguments: TestKeys.specs)
    func signsAndVerifiesRawMessagesWithEveryAlgorithmOfTheSpec(spec: KeySpec) throws {
        let key = TestKeys.key(spec)
        let publicKey = try PublicKey(spkiDER: key.publicKeyDER, spec: spec)
        let algorithms = spec.signingAlgorithms(usage: .signVerify)
        #expect(!algorithms.isEmpty)
        for algorithm in algorithms {
            let signature = try key.sign(message, messageType: .raw, algorithm: algorithm)
            #expect(
                try publicKey.verify(signature, message: message, messageType: .raw, algorithm: algorithm),
                "\(algorithm)")
            var flipped = signature
            flipped[flipped.count / 2] ^= 0x01
            #expect(
                try !publicKey.verify(flipped, message: message, messageType: .raw, algorithm: algorithm),
                "\(algorithm)")
            var otherMessage = message
            otherMessage[0] ^= 0x01
            #expect(
                try !publicKey.verify(signature, message: otherMessage, messageType: .raw, algorithm: algorithm),
                "\(algorithm)")
            #expect(try !publicKey.verify([], message: message, messageType: .raw, algorithm: algorithm))
            #expect(
                try !publicKey.verify(
                    Array(signature.dropLast()), message: message, messageType: .raw, algorithm: algorithm))
        }
    }

    @Test(arguments: TestKeys.specs.filter { $0 != .eccNistEdwards25519 })
    func aDigestIsTheHashOfTheRawMessage(spec: KeySpec) throws {
        let key = TestKeys.key(spec)
        for algorithm in spec.signingAlgorithms(usage: .signVerify) {
            let digest = Self.digest(message, for: algorithm)
            let digestSignature = try key.sign(digest, messageType: .digest, algorithm: algorithm)
            let rawSignature = try key.sign(message, messageType: .raw, algorithm: algorithm)
            // Either form verifies as the other: DIGEST means the message was hashed already.
            #expect(
                try key.publicKey.verify(digestSignature, message: digest, messageType: .digest, algorithm: algorithm))
            #expect(
                try key.publicKey.verify(digestSignature, message: message, messageType: .raw, algorithm: algorithm))
            #expect(try key.publicKey.verify(rawSignature, message: digest, messageType: .digest, algorithm: algorithm))
            var flipped = digestSignature
            flipped[flipped.count - 1] ^= 0x80
            #expect(try !key.publicKey.verify(flipped, message: digest, messageType: .digest, algorithm: algorithm))

            for wrongLength: [UInt8] in [Array(digest.dropLast()), digest + [0], []] {
                expectKMSError(.validation) { try key.sign(wrongLength, messageType: .digest, algorithm: algorithm) }
                expectKMSError(.validation) {
                    try key.publicKey.verify(
                        digestSignature, message: wrongLength, messageType: .digest, algorithm: algorithm)
                }
            }
        }
    }

    @Test(arguments: TestKeys.specs)
    func anAlgorithmOfAnotherSpecIsAKeyUsageError(spec: KeySpec) throws {
        let key = TestKeys.key(spec)
        let own = Set(spec.signingAlgorithms(usage: .signVerify))
        let foreign = SigningAlgorithm.allCases.filter { !own.contains($0) && $0 != .ed25519PhSha512 }
        for algorithm in foreign {
            expectKMSError(.invalidKeyUsage) { try key.sign(message, messageType: .raw, algorithm: algorithm) }
            expectKMSError(.invalidKeyUsage) {
                try key.publicKey.verify([0], message: message, messageType: .raw, algorithm: algorithm)
            }
        }
    }

    @Test func ed25519SignsTheMessageItselfAndRefusesDigestsAndEd25519ph() throws {
        let key = TestKeys.key(.eccNistEdwards25519)
        let digest = Array(SHA512.hash(data: message))
        expectKMSError(.validation) { try key.sign(digest, messageType: .digest, algorithm: .ed25519Sha512) }
        expectKMSError(.validation) {
            try key.publicKey.verify([0], message: digest, messageType: .digest, algorithm: .ed25519Sha512)
        }
        expectKMSError(.unsupportedOperation) { try key.sign(message, messageType: .raw, algorithm: .ed25519PhSha512) }
        expectKMSError(.unsupportedOperation) {
            try key.sign(digest, messageType: .digest, algorithm: .ed25519PhSha512)
        }
        expectKMSError(.validation) { try key.sign(message, messageType: .externalMu, algorithm: .ed25519Sha512) }
        // Pure Ed25519 is deterministic; an empty message is a message.
        #expect(
            try key.sign([], messageType: .raw, algorithm: .ed25519Sha512)
                == key.sign([], messageType: .raw, algorithm: .ed25519Sha512))
    }

    /// RFC 8032 §7.1 TEST 1: the secret key as a PKCS#8 (RFC 8410), the empty message.
    @Test func ed25519KnownAnswer() throws {
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        let pkcs8 = hex("302e020100300506032b657004220420") + seed
        let key = try PrivateKey(pkcs8DER: pkcs8, spec: .eccNistEdwards25519)
        #expect(
            Array(key.publicKeyDER.suffix(32))
                == hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
        let signature = try key.sign([], messageType: .raw, algorithm: .ed25519Sha512)
        #expect(
            signature
                == hex(
                    """
                    e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25\
                    bf5f0595bbe24655141438e7a100b
                    """))
    }

    @Test(arguments: [KeySpec.eccNistP256, .eccNistP384, .eccNistP521, .eccSecgP256k1])
    func ecdsaSignaturesAreDER(spec: KeySpec) throws {
        let key = TestKeys.key(spec)
        let algorithm = spec.signingAlgorithms(usage: .signVerify)[0]
        for _ in 0..<8 {
            let signature = try key.sign(message, messageType: .raw, algorithm: algorithm)
            #expect(isDERECDSASignature(signature))
        }
        #expect(
            try !key.publicKey.verify(
                [0x30, 0x03, 0x02, 0x01, 0x01], message: message, messageType: .raw, algorithm: algorithm))
    }

    /// swift-crypto (BoringSSL) reads our public keys and signatures, and we read its.
    @Test func nistCurveSignaturesInteroperateWithSwiftCrypto() throws {
        let p256 = TestKeys.key(.eccNistP256)
        let p384 = TestKeys.key(.eccNistP384)
        let p521 = TestKeys.key(.eccNistP521)
        #expect(
            try P256.Signing.PublicKey(derRepresentation: p256.publicKeyDER).isValidSignature(
                P256.Signing.ECDSASignature(
                    derRepresentation: p256.sign(message, messageType: .raw, algorithm: .ecdsaSha256)), for: message))
        #expect(
            try P384.Signing.PublicKey(derRepresentation: p384.publicKeyDER).isValidSignature(
                P384.Signing.ECDSASignature(
                    derRepresentation: p384.sign(message, messageType: .raw, algorithm: .ecdsaSha384)), for: message))
        #expect(
            try P521.Signing.PublicKey(derRepresentation: p521.publicKeyDER).isValidSignature(
                P521.Signing.ECDSASignature(
                    derRepresentation: p521.sign(message, messageType: .raw, algorithm: .ecdsaSha512)), for: message))

        let theirs = P384.Signing.PrivateKey()
        let ours = try PublicKey(spkiDER: Array(theirs.publicKey.derRepresentation), spec: .eccNistP384)
        let signature = try Array(theirs.signature(for: message).derRepresentation)
        #expect(try ours.verify(signature, message: message, messageType: .raw, algorithm: .ecdsaSha384))

        let ed = TestKeys.key(.eccNistEdwards25519)
        let edPublic = try Curve25519.Signing.PublicKey(rawRepresentation: ed.publicKeyDER.suffix(32))
        #expect(
            try edPublic.isValidSignature(ed.sign(message, messageType: .raw, algorithm: .ed25519Sha512), for: message))
    }

    /// Signatures the openssl command line made (PSS with a digest-length salt, PKCS#1 v1.5).
    @Test func rsaSignaturesFromTheOpenSSLCommandLineVerify() throws {
        let key = try PublicKey(spkiDER: OpenSSLFixture.wrappingPublicKey, spec: .rsa2048)
        let message = OpenSSLFixture.message
        #expect(
            try key.verify(
                OpenSSLFixture.pssSHA256Signature, message: message, messageType: .raw, algorithm: .rsassaPssSha256))
        #expect(
            try key.verify(
                OpenSSLFixture.pkcs1SHA384Signature, message: message, messageType: .raw,
                algorithm: .rsassaPkcs1V15Sha384))
        #expect(
            try !key.verify(
                OpenSSLFixture.pssSHA256Signature, message: message, messageType: .raw, algorithm: .rsassaPkcs1V15Sha256
            ))
        #expect(
            try !key.verify(
                OpenSSLFixture.pkcs1SHA384Signature, message: message, messageType: .raw, algorithm: .rsassaPssSha384))
    }

    @Test func keysAreUsableFromManyThreadsAtOnce() async throws {
        let key = TestKeys.key(.eccNistP256)
        let message = self.message
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var ok = true
                    for _ in 0..<50 {
                        let signature = try key.sign(message, messageType: .raw, algorithm: .ecdsaSha256)
                        ok =
                            try ok
                            && key.publicKey.verify(
                                signature, message: message, messageType: .raw, algorithm: .ecdsaSha256)
                    }
                    return ok
                }
            }
            for try await ok in group { #expect(ok) }
        }
    }
}
