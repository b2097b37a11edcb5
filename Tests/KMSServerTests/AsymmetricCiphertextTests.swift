import Foundation
import KMSCrypto
import KMSDomain
import KMSProto
import Testing

@testable import KMSServer

/// An RSA ciphertext has no version byte: it is a number, whose first byte is 2 or 3 about once
/// in a hundred, the version bytes of the token and external key store blobs. Decrypt and
/// ReEncrypt must take it for what its key says, not for one of those formats (they answered
/// InvalidCiphertextException for such ciphertexts before).
@Suite struct AsymmetricCiphertextTests {
    typealias Core = ServiceCoreTests

    @Test func anRSACiphertextBeginningWithABlobVersionByteDecrypts() async throws {
        try await Core.withService { service in
            var create = KMSCreateKeyRequest()
            create.keySpec = .rsa2048
            create.keyUsage = .encryptDecrypt
            let key = try await service.createKey(create, caller: Core.caller()).keyMetadata.arn
            var get = KMSGetPublicKeyRequest()
            get.keyID = key
            let publicKey = try PublicKey(
                spkiDER: [UInt8](try await service.getPublicKey(get, caller: Core.caller()).publicKey), spec: .rsa2048)
            let plaintext = Array("made outside".utf8)
            for first: UInt8 in [2, 3] {
                var sealed: [UInt8] = []
                // Encryptions are random: about 256 tries find a first byte, each a millisecond.
                for _ in 0..<20_000 where sealed.first != first {
                    sealed = try publicKey.encrypt(plaintext, algorithm: .rsaesOaepSha256)
                }
                #expect(sealed.first == first)
                var decrypt = KMSDecryptRequest()
                decrypt.keyID = key
                decrypt.ciphertextBlob = Data(sealed)
                decrypt.encryptionAlgorithm = .rsaesOaepSha256
                #expect(try await service.decrypt(decrypt, caller: Core.caller()).plaintext == Data(plaintext))
                var reEncrypt = KMSReEncryptRequest()
                reEncrypt.sourceKeyID = key
                reEncrypt.ciphertextBlob = Data(sealed)
                reEncrypt.sourceEncryptionAlgorithm = .rsaesOaepSha256
                reEncrypt.destinationKeyID = try await Core.createKey(service)
                let moved = try await service.reEncrypt(reEncrypt, caller: Core.caller()).ciphertextBlob
                var back = KMSDecryptRequest()
                back.ciphertextBlob = moved
                #expect(try await service.decrypt(back, caller: Core.caller()).plaintext == Data(plaintext))
            }
        }
    }
}
