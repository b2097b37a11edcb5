import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import Testing

/// Multi-Region material between deployments: sealed for a peer worker's transport key, bound
/// to the key ARN, the version and the binding's every field.
@Suite struct MaterialTransportTests {
    let arn = "arn:aws:kms::111122223333:key/mrk-1b2c3d4e5f60718293a4b5c6d7e8f901"
    let binding = MaterialTransport.Binding(
        mrkID: "mrk-1b2c3d4e5f60718293a4b5c6d7e8f901", sourceRegion: "us-east-1", destinationRegion: "eu-west-1",
        keySpec: .symmetricDefault)

    func seal(_ material: SymmetricKey, for ring: RootKeyring, id: MaterialID) throws -> [UInt8] {
        try MaterialTransport.seal(
            material, kind: .symmetric256, keyARN: arn, materialID: id, binding: binding,
            peerPublicKeyDER: MaterialTransport.transportPublicKeyDER(of: ring.active))
    }

    @Test func opensOnlyForTheReceivingWorkerAndCarriesNoPlaintext() throws {
        let receiver = RootKeyring(keys: [.generate()])
        let material = SymmetricKey(size: .bits256)
        let id = MaterialID.random()
        let sealed = try seal(material, for: receiver, id: id)
        let plaintext = material.withUnsafeBytes { Array($0) }
        #expect(!(0...(sealed.count - 32)).contains { Array(sealed[$0..<($0 + 32)]) == plaintext })
        let (opened, kind) = try MaterialTransport.open(
            sealed, keyARN: arn, materialID: id, binding: binding, keyring: receiver)
        #expect(opened == material && kind == .symmetric256)
        // The same keyring derives the same transport key; another worker's does not open it.
        #expect(
            MaterialTransport.transportPublicKeyDER(of: receiver.active)
                == MaterialTransport.transportPublicKeyDER(of: receiver.active))
        let error = #expect(throws: KMSError.self) {
            _ = try MaterialTransport.open(
                sealed, keyARN: arn, materialID: id, binding: binding, keyring: RootKeyring(keys: [.generate()]))
        }
        #expect(error?.code == .keyUnavailable)
    }

    @Test func everyBoundFieldMatters() throws {
        let receiver = RootKeyring(keys: [.generate()])
        let id = MaterialID.random()
        let sealed = try seal(SymmetricKey(size: .bits256), for: receiver, id: id)
        var others: [(String, MaterialID, MaterialTransport.Binding)] = []
        others.append((arn.replacingOccurrences(of: "111122223333", with: "444455556666"), id, binding))
        others.append((arn, .random(), binding))
        for change in 0..<5 {
            var moved = binding
            switch change {
            case 0: moved.mrkID = "mrk-00000000000000000000000000000000"
            case 1: moved.sourceRegion = "us-west-2"
            case 2: moved.destinationRegion = "eu-north-1"
            case 3: moved.replicaDigest = Array(repeating: 7, count: 32)
            default: moved.keySpec = .hmac256
            }
            others.append((arn, id, moved))
        }
        for (keyARN, materialID, moved) in others {
            #expect(throws: KMSError.self) {
                _ = try MaterialTransport.open(
                    sealed, keyARN: keyARN, materialID: materialID, binding: moved, keyring: receiver)
            }
        }
        var flipped = sealed
        flipped[flipped.count - 1] ^= 1
        #expect(throws: KMSError.self) {
            _ = try MaterialTransport.open(flipped, keyARN: arn, materialID: id, binding: binding, keyring: receiver)
        }
    }

    @Test func anOlderRootKeysTransportKeyStillOpensAfterARotation() throws {
        let old = RootKey.generate()
        let id = MaterialID.random()
        let material = SymmetricKey(size: .bits256)
        let sealed = try seal(material, for: RootKeyring(keys: [old]), id: id)
        let rotated = RootKeyring(keys: [old, .generate()])
        #expect(
            MaterialTransport.transportPublicKeyDER(of: rotated.active)
                != MaterialTransport.transportPublicKeyDER(of: old))
        #expect(
            try MaterialTransport.open(sealed, keyARN: arn, materialID: id, binding: binding, keyring: rotated).material
                == material)
    }
}
