import ArgumentParser
import Foundation
import KMSClient
import KMSEnvelope
import Synchronization

/// `kms-bench envelope-cache`: what KMSEnvelope's data key cache saves. Encrypts --messages
/// messages of --size bytes, one after another, through a KMS keyring, with no cache or with one
/// of the given limits, and reports the GenerateDataKey calls the keyring made (counted between
/// the keyring and kmsd), the cache's hits and misses, and messages per second.
struct EnvelopeCache: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "envelope-cache",
        abstract: "Encrypt many small messages with KMSEnvelope, with or without a data key cache, and count KMS calls."
    )

    @Option(help: "kmsd: host:port or tls://host:port (default: $KMS_ENDPOINT, else 127.0.0.1:7400).") var endpoint:
        String?
    @Option(help: "Credentials profile (default: $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, else $AWS_PROFILE).")
    var profile: String?
    @Option(help: "The KMS key to encrypt under (its ARN).") var keyId: String
    @Option(help: "Messages to encrypt.") var messages = 1000
    @Option(help: "Plaintext bytes per message.") var size = 4096
    @Option(help: "The algorithm suite (an AWS Encryption SDK name).") var algorithmSuite =
        AlgorithmSuite.aes256GCMHKDFSHA512CommitKey.description
    @Option(help: "Cache entries' maximum age in seconds; 0: no cache.") var cacheMaxAge: Double = 0
    @Option(help: "Messages one cached data key may encrypt.") var cacheMaxMessages = 100
    @Flag(help: "Print the result as JSON on stdout.") var json = false

    func run() async throws {
        guard let suite = AlgorithmSuite(name: self.algorithmSuite), suite.isCommitting else {
            throw ValidationError("--algorithm-suite must name a committing suite")
        }
        guard self.messages > 0, self.size >= 0, self.cacheMaxAge >= 0, self.cacheMaxMessages > 0 else {
            throw ValidationError("--messages and --cache-max-messages must be positive, the others not negative")
        }
        let resolved = try KMSClientEnvironment(endpoint: self.endpoint, profile: self.profile).resolve(.init())
        let client = try KMSClient(endpoint: resolved.endpoint, configuration: resolved.configuration)
        var configuration = EnvelopeEncryption.Configuration()
        configuration.suite = suite
        let context = ["purpose": "kms-bench envelope-cache"]
        let plaintext = [UInt8](repeating: 0x5A, count: self.size)

        // A first message outside the count and the clock: the connection and kmsd's key caches.
        let warm = EnvelopeEncryption(keyring: try KMSKeyring(client: client, keyIDs: [self.keyId]))
        _ = try await warm.encrypt(plaintext, encryptionContext: context)

        let counting = CountingKMS(base: client)
        let cache =
            self.cacheMaxAge > 0
            ? try DataKeyCache(
                limits: .init(
                    maxAge: .milliseconds(Int64(self.cacheMaxAge * 1000)), maxMessages: self.cacheMaxMessages,
                    maxEntries: 16))
            : nil
        let envelope = EnvelopeEncryption(
            keyring: try KMSKeyring(client: counting, keyIDs: [self.keyId]), configuration: configuration,
            cache: cache)
        var last: [UInt8] = []
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<self.messages {
            last = try await envelope.encrypt(plaintext, encryptionContext: context)
        }
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // The last message reads back: the cached keys made real messages.
        let reader = EnvelopeEncryption(keyring: try KMSKeyring(client: client, keyIDs: [self.keyId]))
        guard try await reader.decrypt(last).plaintext == plaintext else {
            throw ValidationError("the last message did not decrypt to its plaintext")
        }
        await client.close()

        let statistics = cache?.statistics ?? .init()
        let result: [String: Any] = [
            "messages": self.messages, "size": self.size, "suite": suite.description,
            "cacheMaxAgeSeconds": self.cacheMaxAge, "cacheMaxMessages": cache == nil ? 0 : self.cacheMaxMessages,
            "seconds": seconds, "messagesPerSecond": Double(self.messages) / seconds,
            "generateDataKeyCalls": counting.generateDataKeyCalls, "cacheHits": statistics.encryptHits,
            "cacheMisses": statistics.encryptMisses,
        ]
        if self.json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(
                "\(self.messages) messages of \(self.size) bytes in \(String(format: "%.3f", seconds)) s "
                    + "(\(String(format: "%.0f", Double(self.messages) / seconds))/s): "
                    + "\(counting.generateDataKeyCalls) GenerateDataKey calls, cache \(statistics.encryptHits) hits, "
                    + "\(statistics.encryptMisses) misses")
        }
    }
}

/// kmsd through a KMSClient, counting the GenerateDataKey calls the keyring makes.
final class CountingKMS: EnvelopeKMS {
    let base: KMSClient
    private let calls = Mutex(0)

    init(base: KMSClient) { self.base = base }

    var generateDataKeyCalls: Int { self.calls.withLock { $0 } }

    func generateDataKey(keyID: String, byteCount: Int, encryptionContext: [String: String])
        async throws(EnvelopeError) -> (plaintext: [UInt8], ciphertext: [UInt8], keyARN: String)
    {
        self.calls.withLock { $0 += 1 }
        return try await self.base.generateDataKey(
            keyID: keyID, byteCount: byteCount, encryptionContext: encryptionContext)
    }

    func encrypt(keyID: String, plaintext: [UInt8], encryptionContext: [String: String])
        async throws(EnvelopeError) -> (ciphertext: [UInt8], keyARN: String)
    {
        try await self.base.encrypt(keyID: keyID, plaintext: plaintext, encryptionContext: encryptionContext)
    }

    func decrypt(keyID: String, ciphertext: [UInt8], encryptionContext: [String: String])
        async throws(EnvelopeError) -> (plaintext: [UInt8], keyARN: String)
    {
        try await self.base.decrypt(keyID: keyID, ciphertext: ciphertext, encryptionContext: encryptionContext)
    }
}
