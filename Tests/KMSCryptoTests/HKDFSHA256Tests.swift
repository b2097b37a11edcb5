import Crypto
import Foundation
import KMSDomain
import Testing

@testable import KMSCrypto

/// HKDFSHA256 (HMAC over OpenSSL's SHA-256) is HKDF-SHA256: RFC 5869's test vectors, swift-crypto's HKDF on
/// random inputs, and ciphertext blobs made with either opening with the other.
@Suite struct HKDFSHA256Tests {
    static func bytes(_ range: ClosedRange<UInt8>) -> [UInt8] { Array(range) }

    static func derived(_ material: [UInt8], salt: [UInt8], info: [UInt8]) -> [UInt8] {
        HKDFSHA256.key(material: SymmetricKey(data: material), salt: salt[...], info: info).withUnsafeBytes {
            Array($0)
        }
    }

    /// RFC 5869 appendix A.1-A.3 (SHA-256): the first 32 bytes of each OKM, which are T(1)
    /// whatever the length asked for. A.2's salt is longer than SHA-256's block, so HMAC hashes it.
    @Test func rfc5869TestVectors() {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        #expect(
            Self.derived(ikm, salt: Self.bytes(0x00...0x0c), info: Self.bytes(0xf0...0xf9))
                == hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"))
        #expect(
            Self.derived(Self.bytes(0x00...0x4f), salt: Self.bytes(0x60...0xaf), info: Self.bytes(0xb0...0xff))
                == hex("b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"))
        #expect(
            Self.derived(ikm, salt: [], info: [])
                == hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"))
    }

    @Test func sameAsSwiftCryptosHKDF() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            let material = (0..<[16, 32, 64, 100][round % 4]).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let salt = (0..<[0, 16, 64, 65, 200][round % 5]).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let info = (0..<(round % 90)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: material), salt: salt, info: info, outputByteCount: 32)
            #expect(Self.derived(material, salt: salt, info: info) == expected.withUnsafeBytes { Array($0) })
        }
    }

    /// The blob format is unchanged: a blob sealed as before (swift-crypto's HKDF, here by hand)
    /// opens, and a blob sealed now opens by hand the same way.
    @Test func blobsOpenAcrossBothDerivations() throws {
        let keyID = KeyID.random()
        let materialID = MaterialID.random()
        let material = SymmetricKey(size: .bits256)
        let context = ["purpose": "test"]
        let aadContext = try EncryptionContextEncoding.canonicalBytes(context)
        let info = SymmetricCiphertext.domain + keyID.bytes + materialID.bytes
        func reference(_ salt: [UInt8]) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: material, salt: salt, info: info, outputByteCount: 32)
        }
        let plaintext = Array("attack at dawn".utf8)

        // Sealed by hand as the format says, opened by SymmetricCiphertext.
        let salt = randomBytes(SymmetricCiphertext.saltLength)
        let nonce = AES.GCM.Nonce()
        let header = [SymmetricCiphertext.version] + keyID.bytes + materialID.bytes + salt + Array(nonce)
        let sealed = try AES.GCM.seal(
            plaintext, using: reference(salt), nonce: nonce, authenticating: header + aadContext)
        let old = header + Array(sealed.ciphertext) + Array(sealed.tag)
        #expect(
            try SymmetricCiphertext.open(
                old, keyID: keyID, materialID: materialID, material: material, encryptionContext: context) == plaintext)

        // Sealed by SymmetricCiphertext, opened by hand.
        let blob = try SymmetricCiphertext.seal(
            plaintext, keyID: keyID, materialID: materialID, material: material, encryptionContext: context)
        let headerLength = SymmetricCiphertext.headerLength
        let blobSalt = Array(blob[(1 + 16 + MaterialID.byteCount)..<(headerLength - SymmetricCiphertext.nonceLength)])
        let box = try AES.GCM.SealedBox(
            nonce: AES.GCM.Nonce(data: blob[(headerLength - SymmetricCiphertext.nonceLength)..<headerLength]),
            ciphertext: blob[headerLength..<(blob.count - SymmetricCiphertext.tagLength)],
            tag: blob[(blob.count - SymmetricCiphertext.tagLength)...])
        let opened = try AES.GCM.open(
            box, using: reference(blobSalt), authenticating: Array(blob[..<headerLength]) + aadContext)
        #expect(Array(opened) == plaintext)
    }
}
