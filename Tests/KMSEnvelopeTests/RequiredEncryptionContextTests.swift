import Crypto
import Foundation
import KMSEnvelope
import Testing

/// Encryption context the message requires without storing it (the SDKs' required encryption
/// context CMM): its pairs are not in the header, the header's tag and the keyring still bind
/// them, and only a reader that reproduces them decrypts.
@Suite struct RequiredEncryptionContextTests {
    static let context = ["tenant": "t-1", "purpose": "backup"]

    @Test(arguments: AlgorithmSuite.allCases)
    func requiredPairsAreBoundButNotStored(_ suite: AlgorithmSuite) async throws {
        let envelope = envelope(
            try RawAESKeyring(keyNamespace: "ns", keyName: "k", wrappingKey: .init(size: .bits256)),
            suite: suite)
        let plaintext = randomBytes(100)
        let message = try await envelope.encrypt(
            plaintext, encryptionContext: Self.context, requiredEncryptionContextKeys: ["tenant"])
        let decrypted = try await envelope.decrypt(message, reproducedEncryptionContext: ["tenant": "t-1"])
        #expect(decrypted.plaintext == plaintext)
        #expect(decrypted.header.encryptionContext["tenant"] == nil)
        #expect(decrypted.header.encryptionContext["purpose"] == "backup")
        #expect(!String(decoding: message, as: UTF8.self).contains("t-1"))
        // The whole context reproduced is as good; the streamed reader agrees.
        #expect(try await envelope.decrypt(message, reproducedEncryptionContext: Self.context).plaintext == plaintext)
        let streamed = try await envelope.decrypt(
            Chunks(message, size: 50), reproducedEncryptionContext: ["tenant": "t-1"]
        ).collect()
        #expect(streamed == plaintext)
        for wrong in [[:], ["tenant": "t-2"], ["tenant": "t-1", "other": "x"], ["other": "x"]] {
            await #expect(throws: EnvelopeError.self, "\(wrong)") {
                _ = try await envelope.decrypt(message, reproducedEncryptionContext: wrong)
            }
        }
    }

    @Test func aStoredPairWithAnotherValueIsAnErrorNamingItsKey() async throws {
        let envelope = envelope(MemoryKeyring())
        let message = try await envelope.encrypt(
            [1, 2, 3], encryptionContext: Self.context, requiredEncryptionContextKeys: ["tenant"])
        let error = await #expect(throws: EnvelopeError.self) {
            _ = try await envelope.decrypt(message, reproducedEncryptionContext: ["tenant": "t-1", "purpose": "other"])
        }
        #expect(error?.description.contains("purpose") == true)
        guard case .invalidEncryptionContext = error else {
            Issue.record("\(String(describing: error))")
            return
        }
    }

    /// With a keyring that binds no context at all, the header's tag alone refuses wrong pairs.
    @Test(arguments: [AlgorithmSuite.aes256GCMIV12Tag16, .default])
    func theHeaderTagBindsTheRequiredPairs(_ suite: AlgorithmSuite) async throws {
        let envelope = envelope(UnboundKeyring(), suite: suite)
        let message = try await envelope.encrypt(
            [1, 2, 3], encryptionContext: Self.context, requiredEncryptionContextKeys: ["tenant", "purpose"])
        #expect(try await envelope.decrypt(message, reproducedEncryptionContext: Self.context).plaintext == [1, 2, 3])
        for wrong in [["tenant": "t-1"], ["tenant": "t-1", "purpose": "other"], [:]] {
            let error = await #expect(throws: EnvelopeError.self, "\(wrong)") {
                _ = try await envelope.decrypt(message, reproducedEncryptionContext: wrong)
            }
            guard case .authenticationFailed = error else {
                Issue.record("\(wrong): \(String(describing: error))")
                continue
            }
        }
    }

    @Test func aRequiredKeyMustBeInTheContext() async throws {
        let envelope = envelope(MemoryKeyring())
        await #expect(throws: EnvelopeError.self) {
            _ = try await envelope.encrypt([1], encryptionContext: ["a": "b"], requiredEncryptionContextKeys: ["c"])
        }
    }

    /// The cache keeps messages with different required keys apart: each is made and read with
    /// the header its own required keys give.
    @Test func theCacheTellsRequiredKeysApart() async throws {
        let keyring = MemoryKeyring()
        var configuration = EnvelopeEncryption.Configuration()
        configuration.frameLength = 16
        let cache = try DataKeyCache(limits: .init(maxAge: .seconds(60), maxEntries: 10))
        let envelope = EnvelopeEncryption(keyring: keyring, configuration: configuration, cache: cache)
        let stored = try await envelope.encrypt([1], encryptionContext: Self.context)
        let required = try await envelope.encrypt(
            [1], encryptionContext: Self.context, requiredEncryptionContextKeys: ["tenant"])
        #expect(keyring.generateCalls.withLock { $0 } == 2)
        #expect(try await envelope.decrypt(stored).plaintext == [1])
        #expect(try await envelope.decrypt(required, reproducedEncryptionContext: ["tenant": "t-1"]).plaintext == [1])
        await #expect(throws: EnvelopeError.self) { _ = try await envelope.decrypt(required) }
    }
}

/// Keeps the data key in the clear and binds no context: what a context check of the keyring's
/// own would hide is left to the message format.
struct UnboundKeyring: EnvelopeKeyring {
    func generateDataKey(suite: AlgorithmSuite, encryptionContext: [String: String]) async throws -> DataKeyMaterials {
        let key = SymmetricKey(size: SymmetricKeySize(bitCount: suite.dataKeyLength * 8))
        let bytes = key.withUnsafeBytes { Array($0) }
        return DataKeyMaterials(
            dataKey: key,
            encryptedDataKeys: [EncryptedDataKey(providerID: "clear", providerInfo: [], ciphertext: bytes)])
    }

    func decryptDataKey(
        suite: AlgorithmSuite, encryptionContext: [String: String], encryptedDataKeys: [EncryptedDataKey]
    ) async throws -> SymmetricKey {
        SymmetricKey(data: encryptedDataKeys[0].ciphertext)
    }
}
