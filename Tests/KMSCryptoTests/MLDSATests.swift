import KMSCrypto
import KMSDomain
import Testing

/// ML_DSA_65 and ML_DSA_87 keys: FIPS 204 known answers, the RFC 9881 DER forms, and what Sign
/// and Verify refuse.
@Suite struct MLDSATests {
    static let specs: [KeySpec] = [.mlDsa65, .mlDsa87]
    let message = Array("a post-quantum signature over a RAW message".utf8)

    /// The DER prefixes RFC 9881 fixes (and Python's cryptography writes): PKCS#8 in the seed
    /// form, and SubjectPublicKeyInfo with the NIST OID and no parameters.
    static func pkcs8Prefix(_ spec: KeySpec) -> [UInt8] {
        hex("3034020100300b06096086480165030403" + (spec == .mlDsa65 ? "12" : "13") + "04228020")
    }

    static func spkiPrefix(_ spec: KeySpec) -> [UInt8] {
        spec == .mlDsa65
            ? hex("308207b2300b0609608648016503040312038207a100")
            : hex("30820a32300b060960864801650304031303820a2100")
    }

    @Test(arguments: MLDSAKnownAnswers.keyGen)
    func theSeedYieldsNISTsPublicKey(vector: MLDSAKnownAnswers.KeyGen) throws {
        let key = try PrivateKey(pkcs8DER: Self.pkcs8Prefix(vector.spec) + hex(vector.seed), spec: vector.spec)
        #expect(key.publicKeyDER == Self.spkiPrefix(vector.spec) + hex(vector.publicKey))
        // The stored form is the seed form again, byte for byte.
        key.withPKCS8DER { #expect($0 == Self.pkcs8Prefix(vector.spec) + hex(vector.seed)) }
    }

    @Test(arguments: specs)
    func signsRawMessagesThatOnlyTheSameMessageVerifies(spec: KeySpec) throws {
        let key = try PrivateKey.generate(spec)
        let publicKey = try PublicKey(spkiDER: key.publicKeyDER, spec: spec)
        let signature = try key.sign(message, messageType: .raw, algorithm: .mlDsaShake256)
        #expect(signature.count == (spec == .mlDsa65 ? 3309 : 4627))
        #expect(try publicKey.verify(signature, message: message, messageType: .raw, algorithm: .mlDsaShake256))
        var flipped = signature
        flipped[flipped.count / 2] ^= 0x01
        #expect(try !publicKey.verify(flipped, message: message, messageType: .raw, algorithm: .mlDsaShake256))
        var otherMessage = message
        otherMessage[0] ^= 0x01
        #expect(try !publicKey.verify(signature, message: otherMessage, messageType: .raw, algorithm: .mlDsaShake256))
        #expect(try !publicKey.verify([], message: message, messageType: .raw, algorithm: .mlDsaShake256))
        #expect(
            try !publicKey.verify(
                Array(signature.dropLast()), message: message, messageType: .raw, algorithm: .mlDsaShake256))
        // Another key's signature does not verify.
        let other = try PrivateKey.generate(spec).sign(message, messageType: .raw, algorithm: .mlDsaShake256)
        #expect(try !publicKey.verify(other, message: message, messageType: .raw, algorithm: .mlDsaShake256))
    }

    @Test(arguments: specs)
    func theStoredFormIsTheSeedAndParsesBackToTheSameKey(spec: KeySpec) throws {
        let key = try PrivateKey.generate(spec)
        let der = key.withPKCS8DER { $0 }
        #expect(der.count == 54)
        #expect(der.starts(with: Self.pkcs8Prefix(spec)))
        let parsed = try PrivateKey(pkcs8DER: der, spec: spec)
        #expect(parsed.publicKeyDER == key.publicKeyDER)
        let signature = try parsed.sign(message, messageType: .raw, algorithm: .mlDsaShake256)
        #expect(try key.publicKey.verify(signature, message: message, messageType: .raw, algorithm: .mlDsaShake256))
    }

    @Test func refusesPrivateKeysThatAreNotTheSeedFormOfTheSpec() throws {
        let der65 = try PrivateKey.generate(.mlDsa65).withPKCS8DER { $0 }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: der65, spec: .mlDsa87) }
        // The "both" form (seed and expanded key; OpenSSL 3.5's default): refused, with the reason.
        var both = hex("30820ffe020100300b0609608648016503040312") + hex("04820fea") + hex("30820fe60420")
        both += [UInt8](repeating: 7, count: 32) + hex("04820fc0") + [UInt8](repeating: 1, count: 4032)
        #expect(both.count == 4 + 0x0ffe)
        let error = #expect(throws: KMSError.self) { try PrivateKey(pkcs8DER: both, spec: .mlDsa65) }
        #expect(error?.code == .incorrectKeyMaterial)
        #expect(error?.message.contains("seed form") == true)
        expectKMSError(.incorrectKeyMaterial) {
            try PrivateKey(pkcs8DER: Array(der65.dropLast()), spec: .mlDsa65)
        }
        expectKMSError(.incorrectKeyMaterial) {
            try PrivateKey(pkcs8DER: TestKeys.key(.eccNistP256).withPKCS8DER { $0 }, spec: .mlDsa65)
        }
    }

    @Test func refusesPublicKeysOfAnotherSpec() throws {
        let der65 = try PrivateKey.generate(.mlDsa65).publicKeyDER
        expectKMSError(.validation) { try PublicKey(spkiDER: der65, spec: .mlDsa87) }
        expectKMSError(.validation) { try PublicKey(spkiDER: der65 + [0], spec: .mlDsa65) }
        expectKMSError(.validation) {
            try PublicKey(spkiDER: TestKeys.key(.eccNistP256).publicKeyDER, spec: .mlDsa65)
        }
    }

    @Test(arguments: specs)
    func refusesExternalMuDigestsAndOtherAlgorithms(spec: KeySpec) throws {
        let key = try PrivateKey.generate(spec)
        let mu = [UInt8](repeating: 0xab, count: 64)
        let error = #expect(throws: KMSError.self) {
            try key.sign(mu, messageType: .externalMu, algorithm: .mlDsaShake256)
        }
        #expect(error?.code == .unsupportedOperation)
        #expect(error?.message.contains("EXTERNAL_MU") == true)
        expectKMSError(.unsupportedOperation) {
            try key.publicKey.verify(mu, message: mu, messageType: .externalMu, algorithm: .mlDsaShake256)
        }
        expectKMSError(.validation) {
            try key.sign(mu, messageType: .digest, algorithm: .mlDsaShake256)
        }
        expectKMSError(.invalidKeyUsage) {
            try key.sign(message, messageType: .raw, algorithm: .ecdsaSha256)
        }
        expectKMSError(.invalidKeyUsage) {
            try key.decrypt(message, algorithm: .rsaesOaepSha256)
        }
    }

    @Test func mlDsa44IsNotGenerated() {
        expectKMSError(.unsupportedOperation) { try PrivateKey.generate(.mlDsa44) }
        #expect(!KeySpec.mlDsa44.isSupported)
        #expect(KeySpec.mlDsa65.isSupported && KeySpec.mlDsa87.isSupported)
    }
}
