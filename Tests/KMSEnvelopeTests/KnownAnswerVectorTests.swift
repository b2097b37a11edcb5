import Crypto
import Foundation
import KMSEnvelope
import Testing

/// Vectors/manifest.json, as scripts/select-envelope-vectors writes it.
struct VectorManifest: Decodable {
    struct Key: Decodable {
        let material: String
    }

    struct Vector: Decodable {
        let origin: String
        let ciphertext: String
        let plaintext: String?
        let key: String
        let providerID: String
        let suite: String
        let framed: Bool
        let cmm: String
        let expect: String
        let reproducedEncryptionContext: [String: String]?

        enum CodingKeys: String, CodingKey {
            case origin, ciphertext, plaintext, key, suite, framed, cmm, expect
            case providerID = "provider-id"
            case reproducedEncryptionContext = "reproduced-encryption-context"
        }
    }

    let keys: [String: Key]
    let tests: [String: Vector]

    static let directory = Bundle.module.url(forResource: "Vectors", withExtension: nil)!

    static func load() throws -> VectorManifest {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode(VectorManifest.self, from: data)
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent(path)))
    }

    func keyring(_ vector: Vector) throws -> RawAESKeyring {
        let key = try #require(self.keys[vector.key])
        let material = try #require(Data(base64Encoded: key.material))
        return try RawAESKeyring(
            keyNamespace: vector.providerID, keyName: vector.key, wrappingKey: SymmetricKey(data: material))
    }
}

/// Messages other AWS Encryption SDKs wrote (the public test vectors, Vectors/README.md) decrypt
/// to their known plaintext here, whole and streamed, and the vectors that conforming readers must
/// refuse are refused.
@Suite struct KnownAnswerVectorTests {
    static func reader(_ keyring: any EnvelopeKeyring) -> EnvelopeEncryption {
        var configuration = EnvelopeEncryption.Configuration()
        configuration.commitmentPolicy = .requireEncryptAllowDecrypt
        return EnvelopeEncryption(keyring: keyring, configuration: configuration)
    }

    @Test func everyPositiveVectorDecryptsToItsPlaintext() async throws {
        let manifest = try VectorManifest.load()
        var decrypted = 0
        for (id, vector) in manifest.tests.sorted(by: { $0.key < $1.key }) where vector.expect == "success" {
            // Messages whose context is partly outside the header: KnownAnswerVectorTests+Required.
            guard vector.cmm == "Default" else { continue }
            let message = try VectorManifest.bytes(vector.ciphertext)
            let plaintext = try VectorManifest.bytes(try #require(vector.plaintext))
            let envelope = Self.reader(try manifest.keyring(vector))
            let context = vector.reproducedEncryptionContext ?? [:]
            let result = try await envelope.decrypt(message, requiredEncryptionContext: context)
            #expect(result.plaintext == plaintext, "\(id)")
            #expect(String(format: "0x%04X", result.header.suite.rawValue) == vector.suite, "\(id)")
            #expect(result.header.framed == vector.framed, "\(id)")
            let streamed = try await envelope.decrypt(Chunks(message, size: 777), requiredEncryptionContext: context)
                .collect()
            #expect(streamed == plaintext, "\(id), streamed")
            decrypted += 1
        }
        #expect(decrypted >= 20)
    }

    /// ESDK-NET 4.0.0 wrote headers whose tag conforming readers do not accept; the ESDK's own
    /// runner expects every one of them to fail.
    @Test func everyNegativeVectorFails() async throws {
        let manifest = try VectorManifest.load()
        let negative = manifest.tests.filter { $0.value.expect == "failure" }
        #expect(negative.count >= 10)
        for (id, vector) in negative {
            let message = try VectorManifest.bytes(vector.ciphertext)
            let envelope = Self.reader(try manifest.keyring(vector))
            await #expect(throws: EnvelopeError.self, "\(id)") {
                _ = try await envelope.decrypt(
                    message, requiredEncryptionContext: vector.reproducedEncryptionContext ?? [:])
            }
        }
    }

    /// The selection keeps what it was chosen for: every suite the library reads, both message
    /// formats, signed and unsigned, framed and non-framed.
    @Test func theSelectionCoversEverySuiteAndBothContentTypes() throws {
        let positive = try VectorManifest.load().tests.values.filter { $0.expect == "success" }
        let suites = Set(positive.map(\.suite))
        #expect(suites == Set(AlgorithmSuite.allCases.map { String(format: "0x%04X", $0.rawValue) }))
        #expect(Set(positive.map(\.framed)) == [true, false])
    }
}
