import Foundation
import KMSCrypto
import KMSCryptoWorker
import KMSDomain
import KMSWorkerProto
import Testing

/// Two workers with their own root keys: material one generated, sealed for the other's
/// transport key and re-wrapped there, decrypts there what the first encrypted.
@Suite struct TransportWorkerTests {
    static let mrk = KeyID.randomMultiRegion().description
    static let arn = "arn:aws:kms::111122223333:key/\(mrk)"

    static func binding(destination: String = "eu-west-1") -> WorkerTransportBinding {
        var binding = WorkerTransportBinding()
        binding.mrkID = mrk
        binding.sourceRegion = "us-east-1"
        binding.destinationRegion = destination
        binding.keySpec = .symmetricDefault
        return binding
    }

    @Test func materialSentToAnotherWorkerDecryptsThereUnderItsOwnRootKey() async throws {
        let (a, b) = (
            CryptoWorker(keyring: RootKeyring(keys: [.generate()])),
            CryptoWorker(keyring: RootKeyring(keys: [.generate()]))
        )
        var generate = WorkerGenerateKeyMaterialRequest()
        generate.keyID = Self.mrk
        generate.keyArn = Self.arn
        generate.kind = .symmetric256
        let generated = try await a.generateKeyMaterial(generate)

        let transport = b.getTransportKey(WorkerGetTransportKeyRequest())
        #expect(transport.rootKeyID == b.activeRootKeyID && transport.fingerprint.count == 32)
        var seal = WorkerSealMaterialForPeerRequest()
        seal.key.keyID = Self.mrk
        seal.key.keyArn = Self.arn
        seal.key.material = generated.material
        seal.peerPublicKey = transport.publicKey
        seal.binding = Self.binding()
        let sealed = try a.sealMaterialForPeer(seal).sealed

        var open = WorkerOpenMaterialFromPeerRequest()
        open.keyID = Self.mrk
        open.keyArn = Self.arn
        open.materialID = generated.material.materialID
        open.sealed = sealed
        open.binding = Self.binding()
        let opened = try b.openMaterialFromPeer(open)
        #expect(opened.rootKeyID == b.activeRootKeyID && opened.material.wrapped != generated.material.wrapped)

        var encrypt = WorkerEncryptRequest()
        encrypt.key.keyID = Self.mrk
        encrypt.key.keyArn = Self.arn
        encrypt.key.material = generated.material
        encrypt.plaintext = Data([7])
        let blob = try await a.encrypt(encrypt).value().ciphertextBlob
        var decrypt = WorkerDecryptRequest()
        decrypt.key.keyID = Self.mrk
        decrypt.key.keyArn = Self.arn
        decrypt.key.material = opened.material
        decrypt.ciphertextBlob = blob
        #expect(try await b.decrypt(decrypt).value().plaintext == Data([7]))

        // Opened for another region, or a binding naming another key than the ARN: refused.
        var moved = open
        moved.binding = Self.binding(destination: "eu-north-1")
        #expect(throws: KMSError.self) { _ = try b.openMaterialFromPeer(moved) }
        var mismatched = open
        mismatched.binding.mrkID = "mrk-00000000000000000000000000000000"
        let error = #expect(throws: KMSError.self) { _ = try b.openMaterialFromPeer(mismatched) }
        #expect(error?.code == .validation)
        // The sender cannot open what it sealed for the peer.
        #expect(throws: KMSError.self) { _ = try a.openMaterialFromPeer(open) }
    }
}
