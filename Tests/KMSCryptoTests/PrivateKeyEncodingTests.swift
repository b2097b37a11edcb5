import KMSCrypto
import KMSDomain
import Testing

@Suite struct PrivateKeyEncodingTests {
    @Test(arguments: TestKeys.specs)
    func pkcs8RoundTrips(spec: KeySpec) throws {
        let key = TestKeys.key(spec)
        let reloaded = try key.withPKCS8DER { try PrivateKey(pkcs8DER: $0, spec: spec) }
        #expect(reloaded.spec == spec)
        #expect(reloaded.publicKeyDER == key.publicKeyDER)
        #expect(reloaded.withPKCS8DER { $0 } == key.withPKCS8DER { $0 })
        let algorithm = spec.signingAlgorithms(usage: .signVerify)[0]
        let message = Array("reloaded".utf8)
        let signature = try reloaded.sign(message, messageType: .raw, algorithm: algorithm)
        #expect(try key.publicKey.verify(signature, message: message, messageType: .raw, algorithm: algorithm))
        #expect(try PublicKey(spkiDER: key.publicKeyDER, spec: spec).der == key.publicKeyDER)
    }

    @Test func aKeyOfAnotherSizeOrCurveIsIncorrectKeyMaterial() throws {
        let rsa2048 = TestKeys.key(.rsa2048).withPKCS8DER { $0 }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: rsa2048, spec: .rsa3072) }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: rsa2048, spec: .eccNistP256) }
        let p256 = TestKeys.key(.eccNistP256).withPKCS8DER { $0 }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: p256, spec: .eccNistP384) }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: p256, spec: .eccSecgP256k1) }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: p256, spec: .eccNistEdwards25519) }
        let ed25519 = TestKeys.key(.eccNistEdwards25519).withPKCS8DER { $0 }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: ed25519, spec: .eccNistP256) }
        expectKMSError(.validation) { try PublicKey(spkiDER: TestKeys.key(.rsa2048).publicKeyDER, spec: .rsa4096) }
        expectKMSError(.validation) { try PublicKey(spkiDER: [0x30, 0x00], spec: .rsa2048) }
    }

    @Test func bytesThatAreNotAPKCS8KeyAreIncorrectKeyMaterial() throws {
        let der = TestKeys.key(.eccNistP256).withPKCS8DER { $0 }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: [], spec: .eccNistP256) }
        expectKMSError(.incorrectKeyMaterial) {
            try PrivateKey(pkcs8DER: Array(repeating: 0x41, count: 64), spec: .eccNistP256)
        }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: der + [0], spec: .eccNistP256) }
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: Array(der.dropLast()), spec: .eccNistP256) }
        // A SubjectPublicKeyInfo is not a private key.
        expectKMSError(.incorrectKeyMaterial) {
            try PrivateKey(pkcs8DER: TestKeys.key(.eccNistP256).publicKeyDER, spec: .eccNistP256)
        }
    }

    /// Imported material whose public half is another key's is refused, not used to sign.
    @Test func aPrivateKeyWithAForeignPublicKeyIsIncorrectKeyMaterial() throws {
        let der = try PrivateKey.generate(.eccNistP256).withPKCS8DER { $0 }
        let mine = try PrivateKey(pkcs8DER: der, spec: .eccNistP256).publicKeyDER.suffix(65)
        let foreign = try PrivateKey.generate(.eccNistP256).publicKeyDER.suffix(65)
        // OpenSSL's EC PKCS#8 ends with the ECPrivateKey's publicKey: the uncompressed point.
        try #require(Array(der.suffix(65)) == Array(mine))
        let spliced = Array(der.dropLast(65)) + foreign
        expectKMSError(.incorrectKeyMaterial) { try PrivateKey(pkcs8DER: spliced, spec: .eccNistP256) }
    }

    @Test func specsThatAreNotAsymmetricAreUnsupported() throws {
        for spec in [KeySpec.symmetricDefault, .hmac256, .sm2] {
            expectKMSError(.unsupportedOperation) { try PrivateKey.generate(spec) }
            expectKMSError(.unsupportedOperation) { try PrivateKey(pkcs8DER: [0x30, 0x00], spec: spec) }
        }
        // ML_DSA_44 (swift-crypto has no ML-DSA-44): no key is made, whatever the material.
        expectKMSError(.unsupportedOperation) { try PrivateKey.generate(.mlDsa44) }
        let seedForm = hex("3034020100300b060960864801650304031104228020") + [UInt8](repeating: 0, count: 32)
        expectKMSError(.unsupportedOperation) { try PrivateKey(pkcs8DER: seedForm, spec: .mlDsa44) }
    }

    @Test func theOpenSSLCommandLinesKeyLoadsWithTheSamePublicKey() throws {
        let key = try PrivateKey(pkcs8DER: OpenSSLFixture.wrappingKeyPKCS8, spec: .rsa2048)
        #expect(key.publicKeyDER == OpenSSLFixture.wrappingPublicKey)
        // The same key as a PKCS#1 RSAPrivateKey is not a PKCS#8 PrivateKeyInfo.
        expectKMSError(.incorrectKeyMaterial) {
            try PrivateKey(pkcs8DER: OpenSSLFixture.wrappingKeyPKCS1, spec: .rsa2048)
        }
    }
}
