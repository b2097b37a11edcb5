import Crypto
import Foundation
import KMSEnvelope
import Testing

/// The raw AES keyring: the SDKs' layout of its encrypted data keys, the context it binds, and
/// messages of every suite under every wrapping key size.
@Suite struct RawAESKeyringTests {
    static func keyring(bits: Int = 256, name: String = "key", namespace: String = "tests") throws -> RawAESKeyring {
        try RawAESKeyring(
            keyNamespace: namespace, keyName: name, wrappingKey: SymmetricKey(size: SymmetricKeySize(bitCount: bits)))
    }

    @Test(arguments: AlgorithmSuite.allCases)
    func messagesOfEverySuiteRoundTripUnderEveryKeySize(_ suite: AlgorithmSuite) async throws {
        for bits in [128, 192, 256] {
            let envelope = envelope(try Self.keyring(bits: bits), suite: suite, frameLength: 64)
            let plaintext = randomBytes(200)
            let message = try await envelope.encrypt(plaintext, encryptionContext: ["purpose": "test"])
            let decrypted = try await envelope.decrypt(message)
            #expect(decrypted.plaintext == plaintext, "\(suite), \(bits)-bit key")
            #expect(decrypted.header.encryptedDataKeys.map(\.providerID) == ["tests"])
        }
    }

    /// Provider information: key name, tag bits (128) and IV length (12) big-endian, then the IV;
    /// ciphertext: the wrapped data key and its 16-byte tag.
    @Test(arguments: [AlgorithmSuite.aes128GCMIV12Tag16, .aes192GCMIV12Tag16HKDFSHA256, .default])
    func encryptedDataKeysHaveTheSDKsLayout(_ suite: AlgorithmSuite) async throws {
        let keyring = try Self.keyring(name: "name-é")
        let materials = try await keyring.generateDataKey(suite: suite, encryptionContext: ["a": "b"])
        let key = try #require(materials.encryptedDataKeys.first)
        #expect(materials.encryptedDataKeys.count == 1)
        #expect(materials.dataKey.bitCount == suite.dataKeyLength * 8)
        #expect(key.providerID == "tests")
        let name = Array("name-é".utf8)
        #expect(key.providerInfo.count == name.count + 20)
        #expect(Array(key.providerInfo.prefix(name.count + 8)) == name + [0, 0, 0, 128, 0, 0, 0, 12])
        #expect(key.ciphertext.count == suite.dataKeyLength + 16)
        let again = try await keyring.generateDataKey(suite: suite, encryptionContext: ["a": "b"])
        #expect(again.encryptedDataKeys[0].providerInfo != key.providerInfo, "a fresh IV per data key")
    }

    @Test func aDataKeyUnwrapsOnlyUnderItsContextKeyNameAndNamespace() async throws {
        let wrappingKey = SymmetricKey(size: .bits256)
        let keyring = try RawAESKeyring(keyNamespace: "ns", keyName: "name", wrappingKey: wrappingKey)
        let suite = AlgorithmSuite.default
        let materials = try await keyring.generateDataKey(suite: suite, encryptionContext: ["a": "b"])
        let unwrapped = try await keyring.decryptDataKey(
            suite: suite, encryptionContext: ["a": "b"], encryptedDataKeys: materials.encryptedDataKeys)
        #expect(unwrapped == materials.dataKey)
        for (context, other) in [
            (["a": "c"], keyring), ([:], keyring),
            (["a": "b"], try RawAESKeyring(keyNamespace: "ns", keyName: "other", wrappingKey: wrappingKey)),
            (["a": "b"], try RawAESKeyring(keyNamespace: "other", keyName: "name", wrappingKey: wrappingKey)),
            (
                ["a": "b"],
                try RawAESKeyring(keyNamespace: "ns", keyName: "name", wrappingKey: SymmetricKey(size: .bits256))
            ),
        ] {
            await #expect(throws: EnvelopeError.self) {
                _ = try await other.decryptDataKey(
                    suite: suite, encryptionContext: context, encryptedDataKeys: materials.encryptedDataKeys)
            }
        }
        // A data key of another suite's length is not taken for this one.
        await #expect(throws: EnvelopeError.self) {
            _ = try await keyring.decryptDataKey(
                suite: .aes128GCMIV12Tag16, encryptionContext: ["a": "b"],
                encryptedDataKeys: materials.encryptedDataKeys)
        }
    }

    @Test func theFirstUnwrappableKeyOfSeveralIsUsed() async throws {
        let keyring = try Self.keyring()
        let foreign = try await Self.keyring().generateDataKey(suite: .default, encryptionContext: [:])
        let own = try await keyring.generateDataKey(suite: .default, encryptionContext: [:])
        let kms = EncryptedDataKey(providerID: "aws-kms", providerInfo: [1], ciphertext: [2])
        let unwrapped = try await keyring.decryptDataKey(
            suite: .default, encryptionContext: [:],
            encryptedDataKeys: [kms] + foreign.encryptedDataKeys + own.encryptedDataKeys)
        #expect(unwrapped == own.dataKey)
    }

    @Test func badKeysAndNamesAreRefused() {
        #expect(throws: EnvelopeError.self) {
            try RawAESKeyring(keyNamespace: "ns", keyName: "n", wrappingKey: SymmetricKey(size: .init(bitCount: 64)))
        }
        #expect(throws: EnvelopeError.self) { try Self.keyring(namespace: "aws-kms") }
        #expect(throws: EnvelopeError.self) { try Self.keyring(namespace: "aws-kms-mrk") }
        #expect(throws: EnvelopeError.self) { try Self.keyring(namespace: "") }
        #expect(throws: EnvelopeError.self) { try Self.keyring(name: "") }
    }
}
