import Crypto
import Foundation
import KMSEnvelope

/// Envelope messages in the AWS Encryption SDK's format, as `EnvelopeEncryption.decrypt` reads
/// them from anyone: header, encrypted data keys, frames or a single block, footer.
///
/// Input: one byte that chooses the chunk size of the streamed read, then the message. A
/// message either decrypts or fails with `EnvelopeError`, nothing else; read whole and read as
/// a stream of chunks, it gives the same plaintext or fails both ways; a signed message's stream
/// yields no plaintext before it fails. Data keys come from a keyring with one fixed key, so
/// the seeds (messages of every suite under it) decrypt and their mutations reach every check.
enum EnvelopeMessageTarget {
    static let target = FuzzTarget(name: "envelope-message", run: run, seeds: seeds)

    static let chunkSizes = [1, 7, 64, 4096]

    static let configuration: EnvelopeEncryption.Configuration = {
        var configuration = EnvelopeEncryption.Configuration()
        configuration.commitmentPolicy = .requireEncryptAllowDecrypt
        // Small bounds, so that a header that claims much cannot make an input allocate much.
        configuration.maxEncryptedDataKeys = 4
        configuration.maxFrameLength = 1 << 16
        configuration.maxHeaderLength = 1 << 16
        configuration.maxSignedPlaintextLength = 1 << 16
        return configuration
    }()

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let chunkSize = chunkSizes[Int(input.byte()) % chunkSizes.count]
        let message = input.rest()
        let envelope = EnvelopeEncryption(keyring: FixedKeyring(), configuration: configuration)
        let (whole, streamed, signedChunksBeforeError) = waitFor {
            let whole: Result<[UInt8], any Error>
            do {
                whole = .success(try await envelope.decrypt(message).plaintext)
            } catch {
                whole = .failure(error)
            }
            var chunks: [[UInt8]] = []
            let streamed: Result<[UInt8], any Error>
            do {
                for try await chunk in envelope.decrypt(Self.chunks(message, size: chunkSize)) { chunks.append(chunk) }
                streamed = .success(chunks.flatMap { $0 })
            } catch {
                streamed = .failure(error)
            }
            // The suite id's first byte: 0x02 (0x0214), 0x03 (0x0346, 0x0378) and 0x05 (0x0578) sign.
            let signed = message.count > 2 && [0x02, 0x03, 0x05].contains(message[message[0] == 1 ? 2 : 1])
            return (whole, streamed, signed && !chunks.isEmpty)
        }
        for result in [whole, streamed] {
            if case .failure(let error) = result {
                require(error is EnvelopeError, "decrypt threw \(type(of: error)), not EnvelopeError: \(error)")
            }
        }
        switch (whole, streamed) {
        case (.success(let a), .success(let b)):
            require(a == b, "the whole and the streamed read give different plaintexts")
        case (.failure, .failure):
            require(!signedChunksBeforeError, "a signed message's stream yielded plaintext before it failed")
        default:
            require(false, "read whole the message \(describe(whole)), streamed \(describe(streamed))")
        }
    }

    static func describe(_ result: Result<[UInt8], any Error>) -> String {
        switch result {
        case .success(let plaintext): "decrypted (\(plaintext.count) bytes)"
        case .failure(let error): "failed (\(error))"
        }
    }

    static func chunks(_ bytes: [UInt8], size: Int) -> AsyncStream<[UInt8]> {
        AsyncStream { continuation in
            for start in stride(from: 0, to: bytes.count, by: size) {
                continuation.yield(Array(bytes[start..<min(start + size, bytes.count)]))
            }
            continuation.finish()
        }
    }

    /// Runs `body` to completion from synchronous code (the fuzz entry point is synchronous): on
    /// an executor that the calling thread itself drives, so that waiting never needs another
    /// thread (the tests call targets from Swift's cooperative pool, which a blocked wait could
    /// exhaust).
    static func waitFor<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let executor = CallingThreadExecutor()
        let box = ResultBox<T>()
        Task(executorPreference: executor) {
            let value = await body()
            executor.finish { box.value = value }
        }
        executor.run()
        return box.value!
    }

    final class ResultBox<T>: @unchecked Sendable {
        var value: T?
    }

    /// Messages of every suite under the fixed key: empty, one byte, a frame, one over, several
    /// frames; two frame lengths; with and without a context; one and two encrypted data keys.
    static func seeds() -> [[UInt8]] {
        var seeds: [[UInt8]] = []
        for suite in AlgorithmSuite.allCases {
            for (frameLength, length, context) in [
                (16, 0, [:]), (16, 17, ["tenant": "acme"]), (4096, 100, ["purpose": "fuzz", "ü": "\u{0}"]),
            ] as [(Int, Int, [String: String])] {
                var configuration = Self.configuration
                configuration.suite = suite
                configuration.frameLength = frameLength
                configuration.commitmentPolicy =
                    suite.isCommitting ? .requireEncryptRequireDecrypt : .forbidEncryptAllowDecrypt
                let envelope = EnvelopeEncryption(
                    keyring: FixedKeyring(copies: length % 2 + 1), configuration: configuration)
                let plaintext = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
                let message = waitFor { try! await envelope.encrypt(plaintext, encryptionContext: context) }
                seeds.append([UInt8(length % Self.chunkSizes.count)] + message)
            }
        }
        return seeds
    }
}

/// One fixed data key (of the suite's length), "encrypted" as provider "fuzz" copies that carry
/// nothing: decrypt answers the key when the message has such a copy.
struct FixedKeyring: EnvelopeKeyring {
    static func dataKey(_ suite: AlgorithmSuite) -> SymmetricKey {
        SymmetricKey(data: [UInt8](repeating: 0x44, count: suite.dataKeyLength))
    }

    var copies = 1

    func generateDataKey(suite: AlgorithmSuite, encryptionContext: [String: String]) async throws -> DataKeyMaterials {
        let copies = (0..<self.copies).map {
            EncryptedDataKey(providerID: "fuzz", providerInfo: Array("key-\($0)".utf8), ciphertext: [0x01])
        }
        return DataKeyMaterials(dataKey: Self.dataKey(suite), encryptedDataKeys: copies)
    }

    func decryptDataKey(
        suite: AlgorithmSuite, encryptionContext: [String: String], encryptedDataKeys: [EncryptedDataKey]
    ) async throws -> SymmetricKey {
        guard encryptedDataKeys.contains(where: { $0.providerID == "fuzz" }) else {
            throw EnvelopeError.noDecryptableDataKey("no fuzz copy")
        }
        return Self.dataKey(suite)
    }
}

/// A task executor whose jobs run on the thread that calls `run`, until `finish`.
final class CallingThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    func enqueue(_ job: consuming ExecutorJob) {
        self.condition.lock()
        self.jobs.append(UnownedJob(job))
        self.condition.signal()
        self.condition.unlock()
    }

    /// Marks the work done (after `update`, under the lock), so that `run` returns.
    func finish(_ update: () -> Void) {
        self.condition.lock()
        update()
        self.finished = true
        self.condition.signal()
        self.condition.unlock()
    }

    func run() {
        while true {
            self.condition.lock()
            while self.jobs.isEmpty && !self.finished { self.condition.wait() }
            if self.jobs.isEmpty {
                self.condition.unlock()
                return
            }
            let job = self.jobs.removeFirst()
            self.condition.unlock()
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
