import Crypto
import Foundation
import KMSEnvelope
import Synchronization

/// Wraps data keys with AES-GCM under keys held in memory, binding the encryption context, so
/// that the message format is tested without a KMS. `providers` keys per message; `calls`
/// counts decryptDataKey calls.
final class MemoryKeyring: EnvelopeKeyring {
    let wrappingKeys: [SymmetricKey]
    let decryptCalls = Mutex(0)
    let generateCalls = Mutex(0)
    /// When set, decrypt answers this key instead of the message's (a key the message did not commit to).
    let substitute: SymmetricKey?

    init(keys: Int = 1, substitute: SymmetricKey? = nil) {
        self.wrappingKeys = (0..<keys).map { _ in SymmetricKey(size: .bits256) }
        self.substitute = substitute
    }

    func generateDataKey(suite: AlgorithmSuite, encryptionContext: [String: String]) async throws -> DataKeyMaterials {
        self.generateCalls.withLock { $0 += 1 }
        let dataKey = SymmetricKey(size: SymmetricKeySize(bitCount: suite.dataKeyLength * 8))
        let plaintext = dataKey.withUnsafeBytes { Array($0) }
        let keys = try self.wrappingKeys.enumerated().map { index, key in
            let box = try AES.GCM.seal(plaintext, using: key, authenticating: Self.aad(encryptionContext))
            return EncryptedDataKey(
                providerID: "memory", providerInfo: Array("key-\(index)".utf8), ciphertext: Array(box.combined!))
        }
        return DataKeyMaterials(dataKey: dataKey, encryptedDataKeys: keys)
    }

    func decryptDataKey(
        suite: AlgorithmSuite, encryptionContext: [String: String], encryptedDataKeys: [EncryptedDataKey]
    ) async throws -> SymmetricKey {
        self.decryptCalls.withLock { $0 += 1 }
        if let substitute { return substitute }
        for key in encryptedDataKeys where key.providerID == "memory" {
            guard let info = String(validating: key.providerInfo, as: UTF8.self), info.hasPrefix("key-"),
                let index = Int(info.dropFirst(4)), self.wrappingKeys.indices.contains(index),
                let box = try? AES.GCM.SealedBox(combined: key.ciphertext),
                let plaintext = try? AES.GCM.open(
                    box, using: self.wrappingKeys[index], authenticating: Self.aad(encryptionContext))
            else { continue }
            return SymmetricKey(data: plaintext)
        }
        throw EnvelopeError.noDecryptableDataKey("memory keyring")
    }

    private static func aad(_ context: [String: String]) -> Data {
        Data(context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n").utf8)
    }
}

/// A stream of chunks that counts how many of them were taken.
struct Chunks: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let chunks: [[UInt8]]
    let taken = TakenCounter()

    /// `bytes` cut into pieces of `size`.
    init(_ bytes: [UInt8], size: Int) {
        self.chunks = stride(from: 0, to: bytes.count, by: Swift.max(size, 1)).map {
            Array(bytes[$0..<Swift.min($0 + size, bytes.count)])
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: self.chunks, taken: self.taken) }

    struct AsyncIterator: AsyncIteratorProtocol {
        let chunks: [[UInt8]]
        let taken: TakenCounter
        var index = 0

        mutating func next() async throws -> [UInt8]? {
            guard self.index < self.chunks.count else { return nil }
            defer { self.index += 1 }
            self.taken.count.withLock { $0 += 1 }
            return self.chunks[self.index]
        }
    }
}

final class TakenCounter: Sendable {
    let count = Mutex(0)
}

extension AsyncSequence where Element == [UInt8] {
    /// Every chunk, concatenated.
    func collect() async throws -> [UInt8] {
        var all: [UInt8] = []
        for try await chunk in self { all += chunk }
        return all
    }
}

func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

func envelope(
    _ keyring: any EnvelopeKeyring, suite: AlgorithmSuite = .default, frameLength: Int = 16,
    _ change: (inout EnvelopeEncryption.Configuration) -> Void = { _ in }
) -> EnvelopeEncryption {
    var configuration = EnvelopeEncryption.Configuration()
    configuration.suite = suite
    configuration.frameLength = frameLength
    if !suite.isCommitting { configuration.commitmentPolicy = .forbidEncryptAllowDecrypt }
    change(&configuration)
    return EnvelopeEncryption(keyring: keyring, configuration: configuration)
}
