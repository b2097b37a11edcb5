import Crypto
import KMSCrypto
import KMSDomain
import Testing

@Suite struct ImportedKeyMaterialTests {
    static let cases: [(KeySpec, WrappingAlgorithm)] = TestKeys.rsaSpecs.flatMap { spec in
        [WrappingAlgorithm.rsaesOaepSha1, .rsaesOaepSha256, .rsaAesKeyWrapSha1, .rsaAesKeyWrapSha256].map { (spec, $0) }
    }

    @Test(arguments: cases)
    func wrapsAndUnwrapsSymmetricMaterial(spec: KeySpec, algorithm: WrappingAlgorithm) throws {
        let wrappingKey = TestKeys.key(spec)
        let material = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let encrypted = try ImportedKeyMaterial.wrap(material, algorithm: algorithm, wrappingKey: wrappingKey.publicKey)
        #expect(try ImportedKeyMaterial.unwrap(encrypted, algorithm: algorithm, wrappingKey: wrappingKey) == material)
        var tampered = encrypted
        tampered[tampered.count - 1] ^= 0x01
        expectKMSError(.invalidCiphertext) {
            try ImportedKeyMaterial.unwrap(tampered, algorithm: algorithm, wrappingKey: wrappingKey)
        }
        expectKMSError(.invalidCiphertext) {
            try ImportedKeyMaterial.unwrap(Array(encrypted.dropLast(8)), algorithm: algorithm, wrappingKey: wrappingKey)
        }
        expectKMSError(.invalidCiphertext) {
            try ImportedKeyMaterial.unwrap([], algorithm: algorithm, wrappingKey: wrappingKey)
        }
    }

    /// RSA_AES_KEY_WRAP carries material too long for RSA alone: an RSA private key.
    @Test(arguments: [WrappingAlgorithm.rsaAesKeyWrapSha1, .rsaAesKeyWrapSha256])
    func wrapsAnRSAPrivateKeyWithAESKeyWrap(algorithm: WrappingAlgorithm) throws {
        let wrappingKey = TestKeys.key(.rsa2048)
        let material = TestKeys.key(.rsa2048).withPKCS8DER { $0 }
        let encrypted = try ImportedKeyMaterial.wrap(material, algorithm: algorithm, wrappingKey: wrappingKey.publicKey)
        let unwrapped = try ImportedKeyMaterial.unwrap(encrypted, algorithm: algorithm, wrappingKey: wrappingKey)
        #expect(unwrapped == material)
        #expect(try PrivateKey(pkcs8DER: unwrapped, spec: .rsa2048).publicKeyDER == TestKeys.key(.rsa2048).publicKeyDER)

        // Tampering with the RSA-encrypted AES key or with the wrapped material.
        for index in [10, 256 + 10] {
            var tampered = encrypted
            tampered[index] ^= 0x01
            expectKMSError(.invalidCiphertext) {
                try ImportedKeyMaterial.unwrap(tampered, algorithm: algorithm, wrappingKey: wrappingKey)
            }
        }
        expectKMSError(.invalidCiphertext) {
            try ImportedKeyMaterial.unwrap(Array(encrypted.prefix(256)), algorithm: algorithm, wrappingKey: wrappingKey)
        }
        // The other hash does not open it, nor does plain OAEP.
        let other: WrappingAlgorithm = algorithm == .rsaAesKeyWrapSha1 ? .rsaAesKeyWrapSha256 : .rsaAesKeyWrapSha1
        expectKMSError(.invalidCiphertext) {
            try ImportedKeyMaterial.unwrap(encrypted, algorithm: other, wrappingKey: wrappingKey)
        }
        expectKMSError(.invalidCiphertext) {
            try ImportedKeyMaterial.unwrap(encrypted, algorithm: .rsaesOaepSha256, wrappingKey: wrappingKey)
        }
        // OAEP alone cannot carry it.
        expectKMSError(.validation) {
            try ImportedKeyMaterial.wrap(material, algorithm: .rsaesOaepSha256, wrappingKey: wrappingKey.publicKey)
        }
    }

    /// `openssl pkeyutl` (OAEP SHA-256) + `openssl enc -id-aes256-wrap-pad`, as AWS documents it.
    @Test func opensWhatTheOpenSSLCommandLineWraps() throws {
        let wrappingKey = try PrivateKey(pkcs8DER: OpenSSLFixture.wrappingKeyPKCS8, spec: .rsa2048)
        let unwrapped = try ImportedKeyMaterial.unwrap(
            OpenSSLFixture.rsaAESKeyWrapSHA256, algorithm: .rsaAesKeyWrapSha256, wrappingKey: wrappingKey)
        #expect(unwrapped == OpenSSLFixture.material)
        #expect(
            try ImportedKeyMaterial.unwrap(OpenSSLFixture.oaepSHA1, algorithm: .rsaesOaepSha1, wrappingKey: wrappingKey)
                == OpenSSLFixture.material)
    }

    @Test func pkcs1AndSM2AreUnsupported() throws {
        let wrappingKey = TestKeys.key(.rsa2048)
        for algorithm in [WrappingAlgorithm.rsaesPkcs1V15, .sm2pke] {
            expectKMSError(.unsupportedOperation) {
                try ImportedKeyMaterial.unwrap(
                    [UInt8](repeating: 1, count: 256), algorithm: algorithm, wrappingKey: wrappingKey)
            }
            expectKMSError(.unsupportedOperation) {
                try ImportedKeyMaterial.wrap([1], algorithm: algorithm, wrappingKey: wrappingKey.publicKey)
            }
        }
        expectKMSError(.unsupportedOperation) {
            try ImportedKeyMaterial.unwrap(
                [UInt8](repeating: 1, count: 64), algorithm: .rsaesOaepSha256, wrappingKey: TestKeys.key(.eccNistP256))
        }
    }
}
