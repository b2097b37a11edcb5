import Crypto
import Foundation
import KMSEnvelope
import Testing

/// The raw AES half of the interop test: messages under keys both sides hold (`RawAESKeyring`
/// here, the Python SDK's RawMasterKey there), no KMS involved. NAME.key holds the key name and
/// the key in hex.
extension EnvelopeInteropTests {
    static let rawNamespace = "kms-interop"

    /// One message per suite, under a 128-, 192- or 256-bit wrapping key in turn, into swift-raw.
    static func writeRawAESMessages(_ directory: URL) async throws {
        let out = directory.appendingPathComponent("swift-raw")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        for (index, suite) in AlgorithmSuite.allCases.enumerated() {
            let bits = [128, 192, 256][index % 3]
            let key = SymmetricKey(size: SymmetricKeySize(bitCount: bits))
            let name = "raw-aes-\(bits)"
            var configuration = EnvelopeEncryption.Configuration()
            configuration.suite = suite
            configuration.frameLength = 128
            if !suite.isCommitting { configuration.commitmentPolicy = .forbidEncryptAllowDecrypt }
            let keyring = try RawAESKeyring(keyNamespace: Self.rawNamespace, keyName: name, wrappingKey: key)
            let envelope = EnvelopeEncryption(keyring: keyring, configuration: configuration)
            let plaintext = (0..<300).map { _ in UInt8.random(in: 0...255) }
            let message = try await envelope.encrypt(plaintext, encryptionContext: ["origin": "swift"])
            let base = out.appendingPathComponent("\(suite)")
            try Data(message).write(to: base.appendingPathExtension("msg"))
            try Data(plaintext).write(to: base.appendingPathExtension("plain"))
            let hex = key.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
            try Data("\(name) \(hex)\n".utf8).write(to: base.appendingPathExtension("key"))
        }
    }

    /// The Python SDK's raw AES messages (every suite, framed and not) decrypt here to their plaintext.
    static func readRawAESMessages(_ directory: URL) async throws {
        let messages = try FileManager.default.contentsOfDirectory(
            at: directory.appendingPathComponent("python-raw"), includingPropertiesForKeys: nil
        ).filter { $0.pathExtension == "msg" }
        #expect(messages.count == AlgorithmSuite.allCases.count * 2)
        var configuration = EnvelopeEncryption.Configuration()
        configuration.commitmentPolicy = .requireEncryptAllowDecrypt
        for url in messages {
            let base = url.deletingPathExtension()
            let keyring = try Self.rawKeyring(base.appendingPathExtension("key"))
            let envelope = EnvelopeEncryption(keyring: keyring, configuration: configuration)
            let decrypted = try await envelope.decrypt(try [UInt8](Data(contentsOf: url)))
            #expect(decrypted.plaintext == (try [UInt8](Data(contentsOf: base.appendingPathExtension("plain")))))
            #expect(decrypted.header.encryptionContext["origin"] == "python", "\(url.lastPathComponent)")
        }
    }

    /// Messages whose "tenant" pair is required but not stored, into swift-required: one per
    /// committing suite and one of format 1.
    static func writeRequiredContextMessages(_ directory: URL) async throws {
        let out = directory.appendingPathComponent("swift-required")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        for suite in [AlgorithmSuite.aes256GCMHKDFSHA512CommitKey, .default, .aes256GCMIV12Tag16HKDFSHA384ECDSAP384] {
            let key = SymmetricKey(size: .bits256)
            var configuration = EnvelopeEncryption.Configuration()
            configuration.suite = suite
            configuration.frameLength = 128
            if !suite.isCommitting { configuration.commitmentPolicy = .forbidEncryptAllowDecrypt }
            let keyring = try RawAESKeyring(keyNamespace: Self.rawNamespace, keyName: "raw-aes-256", wrappingKey: key)
            let envelope = EnvelopeEncryption(keyring: keyring, configuration: configuration)
            let plaintext = (0..<300).map { _ in UInt8.random(in: 0...255) }
            let message = try await envelope.encrypt(
                plaintext, encryptionContext: ["origin": "swift", "tenant": "t-1"],
                requiredEncryptionContextKeys: ["tenant"])
            let base = out.appendingPathComponent("\(suite)")
            try Data(message).write(to: base.appendingPathExtension("msg"))
            try Data(plaintext).write(to: base.appendingPathExtension("plain"))
            let hex = key.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
            try Data("raw-aes-256 \(hex)\n".utf8).write(to: base.appendingPathExtension("key"))
        }
    }

    /// The Python SDK's messages with a required, unstored "tenant" pair decrypt here with it
    /// reproduced, and not without it.
    static func readRequiredContextMessages(_ directory: URL) async throws {
        let messages = try FileManager.default.contentsOfDirectory(
            at: directory.appendingPathComponent("python-required"), includingPropertiesForKeys: nil
        ).filter { $0.pathExtension == "msg" }
        #expect(messages.count == 4)
        var configuration = EnvelopeEncryption.Configuration()
        configuration.commitmentPolicy = .requireEncryptAllowDecrypt
        for url in messages {
            let base = url.deletingPathExtension()
            let envelope = EnvelopeEncryption(
                keyring: try Self.rawKeyring(base.appendingPathExtension("key")), configuration: configuration)
            let message = try [UInt8](Data(contentsOf: url))
            let decrypted = try await envelope.decrypt(message, reproducedEncryptionContext: ["tenant": "t-1"])
            #expect(decrypted.plaintext == (try [UInt8](Data(contentsOf: base.appendingPathExtension("plain")))))
            #expect(decrypted.header.encryptionContext["tenant"] == nil, "\(url.lastPathComponent)")
            for wrong in [[:], ["tenant": "t-2"]] {
                await #expect(throws: EnvelopeError.self, "\(url.lastPathComponent) with \(wrong)") {
                    _ = try await envelope.decrypt(message, reproducedEncryptionContext: wrong)
                }
            }
        }
    }

    /// The keyring of a NAME.key file: the key name, then the key in hex.
    static func rawKeyring(_ url: URL) throws -> RawAESKeyring {
        let fields = try String(contentsOf: url, encoding: .utf8).split(whereSeparator: \.isWhitespace)
        let hex = Array(fields[1].utf8)
        let key = stride(from: 0, to: hex.count, by: 2).map {
            UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)!
        }
        return try RawAESKeyring(
            keyNamespace: Self.rawNamespace, keyName: String(fields[0]), wrappingKey: SymmetricKey(data: key))
    }
}
