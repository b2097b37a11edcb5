import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import Testing

@Suite struct SymmetricCiphertextTests {
    struct Key {
        let id = KeyID.random()
        let materialID = MaterialID.random()
        let material = SymmetricKey(size: .bits256)

        func seal(_ plaintext: [UInt8], _ context: [String: String] = [:]) throws -> [UInt8] {
            try SymmetricCiphertext.seal(
                plaintext, keyID: id, materialID: materialID, material: material, encryptionContext: context)
        }

        func open(_ blob: [UInt8], _ context: [String: String] = [:]) throws(KMSError) -> [UInt8] {
            try SymmetricCiphertext.open(
                blob, keyID: id, materialID: materialID, material: material, encryptionContext: context)
        }
    }

    @Test(arguments: [1, 32, 1000, 4096])
    func roundTrips(size: Int) throws {
        let key = Key()
        let plaintext = randomBytes(size)
        let context = ["purpose": "test", "tenant": "42"]
        let blob = try key.seal(plaintext, context)
        #expect(blob.count == plaintext.count + SymmetricCiphertext.overhead)
        #expect(try key.open(blob, context) == plaintext)
    }

    @Test func theHeaderNamesKeyAndMaterial() throws {
        let key = Key()
        let header = try SymmetricCiphertext.header(of: try key.seal([1, 2, 3]))
        #expect(header.keyID == key.id)
        #expect(header.materialID == key.materialID)
    }

    @Test func twoEncryptionsOfOnePlaintextDiffer() throws {
        let key = Key()
        #expect(try key.seal([1, 2, 3]) != (try key.seal([1, 2, 3])))
    }

    @Test func everySingleBitFlipIsRejected() throws {
        let key = Key()
        let blob = try key.seal(Array("attack at dawn".utf8), ["a": "b"])
        for byte in blob.indices {
            for bit in 0..<8 {
                var damaged = blob
                damaged[byte] ^= UInt8(1) << UInt8(bit)
                let code: KMSError.Code? = {
                    do {
                        _ = try key.open(damaged, ["a": "b"])
                        return nil
                    } catch {
                        return (error as? KMSError)?.code
                    }
                }()
                // A flip in the key id names another key; everywhere else the blob is invalid.
                let expected: KMSError.Code = (1..<17).contains(byte) ? .incorrectKey : .invalidCiphertext
                #expect(code == expected, "byte \(byte) bit \(bit)")
            }
        }
    }

    @Test func truncatedAndExtendedBlobsAreRejected() throws {
        let key = Key()
        let blob = try key.seal([9, 9, 9, 9])
        for length in [0, 1, 20, SymmetricCiphertext.overhead - 1, blob.count - 1] {
            #expect(throws: KMSError.self) { try key.open(Array(blob.prefix(length))) }
        }
        #expect(throws: KMSError.self) { try key.open(blob + [0]) }
    }

    @Test(arguments: [
        ["purpose": "other"],  // changed value
        ["purpose": "test", "x": "y"],  // added pair
        [:],  // removed pair
        ["Purpose": "test"],  // keys are case-sensitive
    ])
    func aDifferentContextIsRejected(context: [String: String]) throws {
        let key = Key()
        let blob = try key.seal([1, 2, 3], ["purpose": "test"])
        #expect(throws: KMSError.invalidCiphertext("the ciphertext or its encryption context is not valid")) {
            try key.open(blob, context)
        }
    }

    @Test func aBlobOfKeyAFailsUnderKeyB() throws {
        let a = Key()
        let b = Key()
        let blob = try a.seal([1, 2, 3])
        #expect(throws: KMSError.incorrectKey("the ciphertext was encrypted under another KMS key")) {
            try b.open(blob)
        }
    }

    @Test func theSameKeyIdWithOtherMaterialFails() throws {
        let a = Key()
        let blob = try a.seal([1, 2, 3])
        // Right key id and material id, wrong material bytes (e.g. a forged material blob).
        #expect(throws: KMSError.self) {
            try SymmetricCiphertext.open(
                blob, keyID: a.id, materialID: a.materialID,
                material: SymmetricKey(size: .bits256), encryptionContext: [:])
        }
    }

    @Test func anotherVersionByteIsRejected() throws {
        let key = Key()
        var blob = try key.seal([1])
        blob[0] = 2
        #expect(throws: KMSError.self) { try SymmetricCiphertext.header(of: blob) }
    }
}
