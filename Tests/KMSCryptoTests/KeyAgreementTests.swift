import Crypto
import KMSCrypto
import KMSDomain
import Testing

@Suite struct KeyAgreementTests {
    @Test(arguments: [(KeySpec.eccNistP256, 32), (.eccNistP384, 48), (.eccNistP521, 66)])
    func bothSidesDeriveTheSameSecret(spec: KeySpec, secretBytes: Int) throws {
        let alice = try PrivateKey.generate(spec)
        let bob = try PrivateKey.generate(spec)
        let one = try alice.deriveSharedSecret(peerPublicKeyDER: bob.publicKeyDER)
        let two = try bob.deriveSharedSecret(peerPublicKeyDER: alice.publicKeyDER)
        #expect(one == two)
        #expect(one.count == secretBytes)
    }

    /// The raw x-coordinate, the same as swift-crypto's shared secret.
    @Test func theSecretIsWhatSwiftCryptoDerives() throws {
        let ours = TestKeys.key(.eccNistP256)
        let theirs = P256.KeyAgreement.PrivateKey()
        let secret = try ours.deriveSharedSecret(peerPublicKeyDER: Array(theirs.publicKey.derRepresentation))
        let expected = try theirs.sharedSecretFromKeyAgreement(
            with: P256.KeyAgreement.PublicKey(derRepresentation: ours.publicKeyDER))
        #expect(secret == expected.withUnsafeBytes { Array($0) })
    }

    @Test func peerKeysThatAreNotOnTheKeysCurveAreValidationErrors() throws {
        let key = TestKeys.key(.eccNistP256)
        for peer in [
            TestKeys.key(.eccNistP384), TestKeys.key(.eccSecgP256k1), TestKeys.key(.rsa2048),
            TestKeys.key(.eccNistEdwards25519),
        ] {
            expectKMSError(.validation) { try key.deriveSharedSecret(peerPublicKeyDER: peer.publicKeyDER) }
        }
        expectKMSError(.validation) { try key.deriveSharedSecret(peerPublicKeyDER: []) }
        expectKMSError(.validation) { try key.deriveSharedSecret(peerPublicKeyDER: Array("not a public key".utf8)) }
        expectKMSError(.validation) {
            try key.deriveSharedSecret(peerPublicKeyDER: TestKeys.key(.eccNistP256).publicKeyDER + [0])
        }
        // A point that is not on the curve: the last byte of y changed.
        var offCurve = try PrivateKey.generate(.eccNistP256).publicKeyDER
        offCurve[offCurve.count - 1] ^= 0x01
        expectKMSError(.validation) { try key.deriveSharedSecret(peerPublicKeyDER: offCurve) }
    }

    @Test(arguments: [KeySpec.rsa2048, .eccSecgP256k1, .eccNistEdwards25519])
    func keysNotForKeyAgreementAreKeyUsageErrors(spec: KeySpec) throws {
        let peer = TestKeys.key(.eccNistP256).publicKeyDER
        expectKMSError(.invalidKeyUsage) { try TestKeys.key(spec).deriveSharedSecret(peerPublicKeyDER: peer) }
    }
}
