import Crypto
import KMSCrypto
import KMSDomain
import Testing

@Suite struct RSAEncryptionTests {
    static let cases: [(KeySpec, EncryptionAlgorithm)] = TestKeys.rsaSpecs.flatMap { spec in
        [(spec, EncryptionAlgorithm.rsaesOaepSha1), (spec, .rsaesOaepSha256)]
    }

    static func random(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255) }
    }

    @Test(arguments: cases)
    func oaepRoundTripsAtTheLimitAndRefusesOneByteMore(spec: KeySpec, algorithm: EncryptionAlgorithm) throws {
        let key = TestKeys.key(spec)
        let limit = try #require(spec.maximumPlaintextBytes(algorithm))
        for count in [0, 1, limit] {
            let plaintext = Self.random(count)
            let ciphertext = try key.publicKey.encrypt(plaintext, algorithm: algorithm)
            #expect(ciphertext.count == spec.rsaModulusBytes)
            #expect(try key.decrypt(ciphertext, algorithm: algorithm) == plaintext)
        }
        expectKMSError(.validation) { try key.publicKey.encrypt(Self.random(limit + 1), algorithm: algorithm) }
    }

    @Test(arguments: cases)
    func aCiphertextThatDoesNotDecryptIsInvalidCiphertext(spec: KeySpec, algorithm: EncryptionAlgorithm) throws {
        let key = TestKeys.key(spec)
        let ciphertext = try key.publicKey.encrypt(Self.random(32), algorithm: algorithm)
        var corrupted = ciphertext
        corrupted[corrupted.count / 2] ^= 0x01
        expectKMSError(.invalidCiphertext) { try key.decrypt(corrupted, algorithm: algorithm) }
        expectKMSError(.invalidCiphertext) { try key.decrypt(Array(ciphertext.dropLast()), algorithm: algorithm) }
        expectKMSError(.invalidCiphertext) { try key.decrypt(ciphertext + [0], algorithm: algorithm) }
        expectKMSError(.invalidCiphertext) { try key.decrypt([], algorithm: algorithm) }
        // A value above the modulus.
        expectKMSError(.invalidCiphertext) {
            try key.decrypt([UInt8](repeating: 0xff, count: ciphertext.count), algorithm: algorithm)
        }
        let other: EncryptionAlgorithm = algorithm == .rsaesOaepSha1 ? .rsaesOaepSha256 : .rsaesOaepSha1
        expectKMSError(.invalidCiphertext) { try key.decrypt(ciphertext, algorithm: other) }
    }

    @Test func everyFailureSaysTheSameThing() throws {
        let key = TestKeys.key(.rsa2048)
        let ciphertext = try key.publicKey.encrypt([1, 2, 3], algorithm: .rsaesOaepSha256)
        var corrupted = ciphertext
        corrupted[0] ^= 0x01
        var messages = Set<String>()
        for bad in [corrupted, Array(ciphertext.dropLast()), [UInt8](repeating: 0xff, count: 256)] {
            do { _ = try key.decrypt(bad, algorithm: .rsaesOaepSha256) } catch { messages.insert(error.message) }
        }
        #expect(messages.count == 1)
    }

    @Test func algorithmsThatAreNotTheKeysAreKeyUsageErrors() throws {
        let rsa = TestKeys.key(.rsa2048)
        expectKMSError(.invalidKeyUsage) { try rsa.publicKey.encrypt([1], algorithm: .symmetricDefault) }
        expectKMSError(.invalidKeyUsage) { try rsa.decrypt([1], algorithm: .sm2pke) }
        let ec = TestKeys.key(.eccNistP256)
        expectKMSError(.invalidKeyUsage) { try ec.publicKey.encrypt([1], algorithm: .rsaesOaepSha256) }
        expectKMSError(.invalidKeyUsage) {
            try ec.decrypt([UInt8](repeating: 1, count: 64), algorithm: .rsaesOaepSha256)
        }
    }

    /// A ciphertext the openssl command line made (`pkeyutl -pkeyopt rsa_padding_mode:oaep`, SHA-1).
    @Test func decryptsWhatTheOpenSSLCommandLineEncrypts() throws {
        let key = try PrivateKey(pkcs8DER: OpenSSLFixture.wrappingKeyPKCS8, spec: .rsa2048)
        #expect(try key.decrypt(OpenSSLFixture.oaepSHA1, algorithm: .rsaesOaepSha1) == OpenSSLFixture.material)
    }
}
