import Crypto
import Foundation
import Synchronization
import Testing

@testable import KMSEnvelope

/// The KMS keyring's calls and choices against a KMS in memory: which key generates, which
/// encrypt, what context they get, which encrypted data keys strict and discovery modes try.
@Suite struct KMSKeyringTests {
    static let first = "arn:aws:kms:us-east-1:111122223333:key/11111111-1111-1111-1111-111111111111"
    static let second = "arn:aws:kms:us-east-1:444455556666:key/22222222-2222-2222-2222-222222222222"
    static let chinese = "arn:aws-cn:kms:cn-north-1:111122223333:key/33333333-3333-3333-3333-333333333333"

    @Test func generatesUnderTheFirstKeyAndEncryptsUnderTheOthersWithTheContext() async throws {
        let kms = MemoryKMS()
        let keyring = try KMSKeyring(client: kms, keyIDs: ["alias/app", Self.second])
        let envelope = EnvelopeEncryption(keyring: keyring)
        let message = try await envelope.encrypt([1, 2, 3], encryptionContext: ["tenant": "a"])
        let calls = kms.calls.withLock { $0 }
        #expect(calls.map(\.operation) == ["GenerateDataKey", "Encrypt"])
        #expect(calls.map(\.keyID) == ["alias/app", Self.second])
        // The context KMS binds is the message's: the signed suite's public key among it.
        #expect(calls.allSatisfy { $0.context["tenant"] == "a" && $0.context["aws-crypto-public-key"] != nil })
        let header = try #require(try MessageHeader.parse(message, maxEncryptedDataKeys: nil)).0
        #expect(header.encryptedDataKeys.map(\.providerID) == ["aws-kms", "aws-kms"])
        // The provider information is the ARN KMS answered, not the alias the caller gave.
        #expect(
            header.encryptedDataKeys.map { String(decoding: $0.providerInfo, as: UTF8.self) } == [
                Self.first, Self.second,
            ])
    }

    @Test func strictModeTriesOnlyItsOwnKeyARNs() async throws {
        let kms = MemoryKMS()
        let message = try await EnvelopeEncryption(
            keyring: try KMSKeyring(client: kms, keyIDs: [Self.first, Self.second])
        )
        .encrypt([7])
        kms.calls.withLock { $0 = [] }
        let secondOnly = EnvelopeEncryption(keyring: try KMSKeyring(client: kms, keyIDs: [Self.second]))
        #expect(try await secondOnly.decrypt(message).plaintext == [7])
        #expect(kms.calls.withLock { $0 }.map(\.keyID) == [Self.second])
        let byAlias = EnvelopeEncryption(keyring: try KMSKeyring(client: kms, keyIDs: ["alias/app"]))
        await #expect(throws: EnvelopeError.self) { try await byAlias.decrypt(message) }
    }

    @Test func aFailingKeyIsSkippedForTheNext() async throws {
        let kms = MemoryKMS()
        let message = try await EnvelopeEncryption(
            keyring: try KMSKeyring(client: kms, keyIDs: [Self.first, Self.second])
        )
        .encrypt([7])
        kms.refused.withLock { $0 = [Self.first] }
        let both = EnvelopeEncryption(keyring: try KMSKeyring(client: kms, keyIDs: [Self.first, Self.second]))
        #expect(try await both.decrypt(message).plaintext == [7])
        kms.refused.withLock { $0 = [Self.first, Self.second] }
        await #expect {
            try await both.decrypt(message)
        } throws: { error in
            guard case .noDecryptableDataKey(let detail) = error as? EnvelopeError else { return false }
            return detail.contains("AccessDeniedException")
        }
    }

    @Test func discoveryModeKeepsToItsPartitionAndAccounts() async throws {
        let kms = MemoryKMS()
        let message = try await EnvelopeEncryption(
            keyring: try KMSKeyring(client: kms, keyIDs: [Self.chinese, Self.second])
        ).encrypt([7])
        let cases: [(KMSKeyring.DiscoveryFilter?, [String])] = [
            (nil, [Self.chinese]),
            (.init(partition: "aws", accountIDs: ["444455556666"]), [Self.second]),
            (.init(partition: "aws-cn", accountIDs: ["111122223333"]), [Self.chinese]),
            (.init(partition: "aws", accountIDs: ["111122223333"]), []),
        ]
        for (filter, expected) in cases {
            kms.calls.withLock { $0 = [] }
            let discovery = EnvelopeEncryption(keyring: KMSKeyring(discoveryClient: kms, filter: filter))
            if expected.isEmpty {
                await #expect(throws: EnvelopeError.self) { try await discovery.decrypt(message) }
            } else {
                #expect(try await discovery.decrypt(message).plaintext == [7])
            }
            #expect(kms.calls.withLock { $0 }.map(\.keyID) == expected)
        }
        let discovery = EnvelopeEncryption(keyring: KMSKeyring(discoveryClient: kms))
        await #expect(throws: EnvelopeError.self) { try await discovery.encrypt([1]) }
    }

    @Test func anAnswerForAnotherKeyOrWithoutAKeyARNIsNotUsed() async throws {
        let kms = MemoryKMS()
        let message = try await EnvelopeEncryption(keyring: try KMSKeyring(client: kms, keyIDs: [Self.first])).encrypt([
            7
        ])
        kms.answerAs.withLock { $0 = Self.second }
        let keyring = try KMSKeyring(client: kms, keyIDs: [Self.first])
        await #expect(throws: EnvelopeError.self) { try await EnvelopeEncryption(keyring: keyring).decrypt(message) }
        // A key id that is not a key ARN cannot be the provider information.
        kms.answerAs.withLock { $0 = "alias/app" }
        await #expect(throws: EnvelopeError.self) { try await EnvelopeEncryption(keyring: keyring).encrypt([1]) }
        #expect(throws: EnvelopeError.self) { try KMSKeyring(client: kms, keyIDs: []) }
    }

    @Test func keyARNsAreParsed() {
        #expect(KeyARN(Self.first)?.account == "111122223333")
        #expect(KeyARN(Self.chinese)?.partition == "aws-cn")
        for text in ["alias/app", "arn:aws:kms:us-east-1:111122223333:alias/app", "arn:aws:kms:us-east-1::key/x", ""] {
            #expect(KeyARN(text) == nil, "\(text)")
        }
    }
}

/// KMS in memory: a blob is the key ARN's length, the ARN, then the plaintext sealed under a
/// per-ARN key with the context; "alias/app" names the first key.
final class MemoryKMS: EnvelopeKMS {
    struct Call: Sendable {
        let operation: String
        let keyID: String
        let context: [String: String]
    }

    let calls = Mutex<[Call]>([])
    /// Keys whose Decrypt is refused.
    let refused = Mutex<Set<String>>([])
    /// When set, every answer names this key.
    let answerAs = Mutex<String?>(nil)
    private let keys = Mutex<[String: SymmetricKey]>([:])

    private func arn(_ keyID: String) -> String { keyID == "alias/app" ? KMSKeyringTests.first : keyID }

    private func key(_ arn: String) -> SymmetricKey {
        self.keys.withLock { keys in
            if let key = keys[arn] { return key }
            let key = SymmetricKey(size: .bits256)
            keys[arn] = key
            return key
        }
    }

    private func seal(_ arn: String, _ plaintext: [UInt8], _ context: [String: String]) -> [UInt8] {
        let aad = Data(context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";").utf8)
        let box = try! AES.GCM.seal(plaintext, using: self.key(arn), authenticating: aad)
        return Array(box.combined!)
    }

    func generateDataKey(keyID: String, byteCount: Int, encryptionContext: [String: String]) async throws(EnvelopeError)
        -> (plaintext: [UInt8], ciphertext: [UInt8], keyARN: String)
    {
        self.calls.withLock { $0.append(Call(operation: "GenerateDataKey", keyID: keyID, context: encryptionContext)) }
        let plaintext = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let arn = self.arn(keyID)
        return (plaintext, self.seal(arn, plaintext, encryptionContext), self.answerAs.withLock { $0 } ?? arn)
    }

    func encrypt(keyID: String, plaintext: [UInt8], encryptionContext: [String: String]) async throws(EnvelopeError)
        -> (ciphertext: [UInt8], keyARN: String)
    {
        self.calls.withLock { $0.append(Call(operation: "Encrypt", keyID: keyID, context: encryptionContext)) }
        let arn = self.arn(keyID)
        return (self.seal(arn, plaintext, encryptionContext), self.answerAs.withLock { $0 } ?? arn)
    }

    func decrypt(keyID: String, ciphertext: [UInt8], encryptionContext: [String: String]) async throws(EnvelopeError)
        -> (plaintext: [UInt8], keyARN: String)
    {
        self.calls.withLock { $0.append(Call(operation: "Decrypt", keyID: keyID, context: encryptionContext)) }
        let arn = self.arn(keyID)
        if self.refused.withLock({ $0.contains(arn) }) {
            throw .kms(code: "AccessDeniedException", message: "refused")
        }
        let aad = Data(
            encryptionContext.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";").utf8)
        guard let box = try? AES.GCM.SealedBox(combined: ciphertext),
            let plaintext = try? AES.GCM.open(box, using: self.key(arn), authenticating: aad)
        else { throw .kms(code: "InvalidCiphertextException", message: "") }
        return (Array(plaintext), self.answerAs.withLock { $0 } ?? arn)
    }
}
