import Foundation
import KMSClient
import KMSEnvelope
import KMSTestSupport
import Testing

/// KMSEnvelope against the AWS Encryption SDK for Python, both using kmsd's keys (the SDK through
/// the AWS JSON endpoint): messages made here decrypt there and messages made there decrypt
/// here, for every suite, the frame edge cases (and the SDK's non-framed content) and several
/// encrypted data keys; damaged messages fail on both sides; and the same with raw AES keys
/// (Tests/aws-clients/envelope_interop_suite.py, EnvelopeInteropTests+RawAES).
@Suite struct EnvelopeInteropTests {
    /// (frame length, plaintext lengths): empty, one byte, exactly one frame, one byte over, several frames.
    static let sizes = [(4096, [0, 1, 4096, 4097]), (16, [0, 16, 17, 100])]

    @Test func messagesCrossBetweenKMSEnvelopeAndThePythonSDK() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        var environment = try await AWSClientTests.environment(stack)
        let key = try await stack.client.createKey("envelope").arn
        let other = try await stack.client.createKey("envelope, second key").arn
        environment["KMS_KEY_ARN"] = key
        environment["KMS_OTHER_KEY_ARN"] = other
        let directory = stack.worker.directory.appendingPathComponent("envelope")
        environment["ENVELOPE_DIR"] = directory.path
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("swift"), withIntermediateDirectories: true)

        for suite in AlgorithmSuite.allCases {
            for (frameLength, lengths) in Self.sizes {
                for length in lengths {
                    let keys = length % 2 == 1 ? [key, other] : [key]
                    var configuration = EnvelopeEncryption.Configuration()
                    configuration.suite = suite
                    configuration.frameLength = frameLength
                    if !suite.isCommitting { configuration.commitmentPolicy = .forbidEncryptAllowDecrypt }
                    let envelope = EnvelopeEncryption(
                        keyring: try KMSKeyring(client: stack.client, keyIDs: keys), configuration: configuration)
                    let plaintext = (0..<length).map { _ in UInt8.random(in: 0...255) }
                    let message = try await envelope.encrypt(plaintext, encryptionContext: ["origin": "swift"])
                    let name = "\(suite.isSigned ? "sign" : "nosign")-\(suite)-\(frameLength)-\(length)"
                    let base = directory.appendingPathComponent("swift").appendingPathComponent(name)
                    try Data(message).write(to: base.appendingPathExtension("msg"))
                    try Data(plaintext).write(to: base.appendingPathExtension("plain"))
                    try Data(keys.joined(separator: "\n").utf8).write(to: base.appendingPathExtension("keys"))
                }
            }
        }

        try await Self.writeRawAESMessages(directory)
        try await Self.writeRequiredContextMessages(directory)

        let python = try await AWSClientTests.run("envelope_interop_suite.py", environment)
        #expect(python.status == 0, "\(python.output)")
        try await Self.readRawAESMessages(directory)
        try await Self.readRequiredContextMessages(directory)

        var configuration = EnvelopeEncryption.Configuration()
        configuration.commitmentPolicy = .requireEncryptAllowDecrypt
        let messages = try FileManager.default.contentsOfDirectory(
            at: directory.appendingPathComponent("python"), includingPropertiesForKeys: nil
        ).filter { $0.pathExtension == "msg" }.sorted { $0.path < $1.path }
        #expect(messages.count == 44)
        for url in messages {
            let message = try [UInt8](Data(contentsOf: url))
            let plaintext = try [UInt8](Data(contentsOf: url.deletingPathExtension().appendingPathExtension("plain")))
            let keys = try String(
                contentsOf: url.deletingPathExtension().appendingPathExtension("keys"), encoding: .utf8
            )
            .split(separator: "\n").map(String.init)
            for key in keys {
                let envelope = EnvelopeEncryption(
                    keyring: try KMSKeyring(client: stack.client, keyIDs: [key]), configuration: configuration)
                let decrypted = try await envelope.decrypt(message)
                #expect(decrypted.plaintext == plaintext, "\(url.lastPathComponent) with \(key)")
                #expect(decrypted.header.encryptionContext["origin"] == "python")
                #expect(decrypted.header.encryptedDataKeys.count == keys.count)
                let streamed = envelope.decrypt(Self.chunks(message, size: 1000))
                var collected: [UInt8] = []
                for try await chunk in streamed { collected += chunk }
                #expect(collected == plaintext, "\(url.lastPathComponent) streamed")
            }
        }
        try await Self.keyringModes(stack, messages: messages, key: key, other: other, configuration: configuration)
        await stack.stop()
    }

    /// Discovery within and outside its filter, a strict keyring without the message's keys, and
    /// every flipped byte of a signed message made by the Python SDK.
    static func keyringModes(
        _ stack: KMSStack, messages: [URL], key: String, other: String,
        configuration: EnvelopeEncryption.Configuration
    ) async throws {
        let signed = try #require(
            messages.first { $0.lastPathComponent == "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384-128-129.msg" })
        let message = try [UInt8](Data(contentsOf: signed))
        let account = key.split(separator: ":")[4]
        let discovery = EnvelopeEncryption(
            keyring: KMSKeyring(
                discoveryClient: stack.client,
                filter: .init(partition: "aws", accountIDs: [String(account)])),
            configuration: configuration)
        #expect(try await discovery.decrypt(message).plaintext.count == 129)
        for filter in [
            KMSKeyring.DiscoveryFilter(partition: "aws", accountIDs: ["999999999999"]),
            KMSKeyring.DiscoveryFilter(partition: "aws-cn", accountIDs: [String(account)]),
        ] {
            let elsewhere = EnvelopeEncryption(
                keyring: KMSKeyring(discoveryClient: stack.client, filter: filter), configuration: configuration)
            await #expect(throws: EnvelopeError.self) { try await elsewhere.decrypt(message) }
        }
        let unrelated = try await stack.client.createKey("unrelated").arn
        let strict = EnvelopeEncryption(
            keyring: try KMSKeyring(client: stack.client, keyIDs: [unrelated]), configuration: configuration)
        await #expect(throws: EnvelopeError.self) { try await strict.decrypt(message) }

        let envelope = EnvelopeEncryption(
            keyring: try KMSKeyring(client: stack.client, keyIDs: [key, other]), configuration: configuration)
        for index in message.indices {
            var damaged = message
            damaged[index] ^= 0x01
            await #expect(throws: (any Error).self, "byte \(index)") { try await envelope.decrypt(damaged) }
            var iterator = envelope.decrypt(Self.chunks(damaged, size: 64)).makeAsyncIterator()
            await #expect(throws: (any Error).self, "byte \(index), streamed") { _ = try await iterator.next() }
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
}
