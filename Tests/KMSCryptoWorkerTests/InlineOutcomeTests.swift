import Foundation
import KMSCrypto
import KMSCryptoWorker
import KMSDomain
import KMSRPC
import KMSWorkerProto
import Testing

/// Which requests the worker answers where they arrive and which it hands to its heavy pool:
/// AES-GCM and ECDSA inline, RSA as the rest of the request; a refusal is thrown inline either way.
@Suite struct InlineOutcomeTests {
    static let worker = CryptoWorker(keyring: RootKeyring(keys: [.generate()]), heavyThreads: 1)

    static func newKey(_ kind: WorkerMaterialKind, spec: WorkerKeySpec = .unspecified)
        async throws -> WorkerKeyRef
    {
        let id = UUID().uuidString.lowercased()
        var request = WorkerGenerateKeyMaterialRequest()
        request.keyID = id
        request.keyArn = "arn:aws:kms:us-east-1:111122223333:key/\(id)"
        request.kind = kind
        request.keySpec = spec
        var key = WorkerKeyRef()
        key.keyID = id
        key.keyArn = request.keyArn
        key.keySpec = spec
        key.material = try await Self.worker.generateKeyMaterial(request).material
        return key
    }

    static func isInline<T>(_ outcome: RPCInlineOutcome<T>) -> Bool {
        if case .answer = outcome { return true }
        return false
    }

    @Test func symmetricWorkIsAnsweredInline() async throws {
        let key = try await Self.newKey(.symmetric256)
        var encrypt = WorkerEncryptRequest()
        encrypt.key = key
        encrypt.plaintext = Data("inline".utf8)
        encrypt.encryptionContext = ["app": "a"]
        let sealed = try Self.worker.encrypt(encrypt)
        #expect(Self.isInline(sealed))

        var decrypt = WorkerDecryptRequest()
        decrypt.key = key
        decrypt.ciphertextBlob = try await sealed.value().ciphertextBlob
        decrypt.encryptionContext = ["app": "a"]
        let opened = try Self.worker.decrypt(decrypt)
        #expect(Self.isInline(opened))
        #expect(try await opened.value().plaintext == Data("inline".utf8))

        var reEncrypt = WorkerReEncryptRequest()
        reEncrypt.sourceKey = key
        reEncrypt.destinationKey = try await Self.newKey(.symmetric256)
        reEncrypt.ciphertextBlob = decrypt.ciphertextBlob
        reEncrypt.sourceEncryptionContext = ["app": "a"]
        #expect(Self.isInline(try Self.worker.reEncrypt(reEncrypt)))

        // The blob's failure is the inline call's own, not a task's.
        decrypt.encryptionContext = [:]
        #expect(throws: KMSError.self) { _ = try Self.worker.decrypt(decrypt) }
    }

    @Test func rsaWorkIsLeftForThePoolAndDoneThere() async throws {
        let rsa = try await Self.newKey(.byKeySpec, spec: .rsa2048)
        var encrypt = WorkerEncryptRequest()
        encrypt.key = rsa
        encrypt.plaintext = Data("pooled".utf8)
        encrypt.encryptionAlgorithm = .rsaesOaepSha256
        let sealed = try Self.worker.encrypt(encrypt)
        #expect(!Self.isInline(sealed))

        var decrypt = WorkerDecryptRequest()
        decrypt.key = rsa
        decrypt.ciphertextBlob = try await sealed.value().ciphertextBlob
        decrypt.encryptionAlgorithm = .rsaesOaepSha256
        let opened = try Self.worker.decrypt(decrypt)
        #expect(!Self.isInline(opened))
        #expect(try await opened.value().plaintext == Data("pooled".utf8))

        // Into an RSA key from a symmetric one: the whole re-encryption goes to the pool.
        let symmetric = try await Self.newKey(.symmetric256)
        var first = WorkerEncryptRequest()
        first.key = symmetric
        first.plaintext = Data("moved".utf8)
        var reEncrypt = WorkerReEncryptRequest()
        reEncrypt.sourceKey = symmetric
        reEncrypt.ciphertextBlob = try await Self.worker.encrypt(first).value().ciphertextBlob
        reEncrypt.destinationKey = rsa
        reEncrypt.destinationEncryptionAlgorithm = .rsaesOaepSha1
        let moved = try Self.worker.reEncrypt(reEncrypt)
        #expect(!Self.isInline(moved))
        decrypt.ciphertextBlob = try await moved.value().ciphertextBlob
        decrypt.encryptionAlgorithm = .rsaesOaepSha1
        #expect(try await Self.worker.decrypt(decrypt).value().plaintext == Data("moved".utf8))

        // An algorithm the key does not have is refused before anything is pooled.
        encrypt.key = symmetric
        #expect(throws: KMSError.self) { _ = try Self.worker.encrypt(encrypt) }
    }

    @Test func ecdsaSignsInlineAndRSASignsOnThePool() async throws {
        var sign = WorkerSignRequest()
        sign.message = Data(repeating: 7, count: 32)
        sign.messageType = .digest
        sign.key = try await Self.newKey(.byKeySpec, spec: .eccNistP256)
        sign.signingAlgorithm = .ecdsaSha256
        let ecdsa = try Self.worker.sign(sign)
        #expect(Self.isInline(ecdsa))
        #expect(try await !ecdsa.value().signature.isEmpty)

        sign.key = try await Self.newKey(.byKeySpec, spec: .rsa2048)
        sign.signingAlgorithm = .rsassaPssSha256
        let rsa = try Self.worker.sign(sign)
        #expect(!Self.isInline(rsa))
        var verify = WorkerVerifyRequest()
        verify.key = sign.key
        verify.message = sign.message
        verify.messageType = .digest
        verify.signingAlgorithm = .rsassaPssSha256
        verify.signature = try await rsa.value().signature
        #expect(try Self.worker.verify(verify).signatureValid)
    }
}
