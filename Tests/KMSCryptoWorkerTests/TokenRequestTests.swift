import Foundation
import KMSCrypto
import KMSCryptoWorker
import KMSDomain
import KMSWorkerProto
import Testing

/// The token operations' checks and PIN handling, on a CryptoWorker in this process (no token
/// is reached: every request here is refused before, or needs none).
@Suite struct TokenRequestTests {
    static func code(_ body: () async throws -> Void) async -> KMSError.Code? {
        do {
            try await body()
            return nil
        } catch let error as KMSError {
            return error.code
        } catch {
            Issue.record("not a KMSError: \(error)")
            return nil
        }
    }

    @Test func rewrapsAPINUnderTheActiveRootKey() throws {
        let old = RootKey.generate()
        let worker = CryptoWorker(keyring: RootKeyring(keys: [old]))
        var wrap = WorkerWrapTokenPinRequest()
        wrap.customKeyStoreID = "cks-1"
        wrap.pin = "1234-pin"
        let wrapped = try worker.wrapTokenPin(wrap)
        #expect(wrapped.rootKeyID == old.id.description)

        var rewrap = WorkerRewrapTokenPinRequest()
        rewrap.customKeyStoreID = "cks-1"
        rewrap.wrappedPin = wrapped.wrappedPin
        let same = try worker.rewrapTokenPin(rewrap)
        #expect(!same.changed)
        #expect(same.wrappedPin == wrapped.wrappedPin)

        let new = RootKey.generate()
        worker.reload(RootKeyring(keys: [old, new]))
        let moved = try worker.rewrapTokenPin(rewrap)
        #expect(moved.changed)
        #expect(moved.rootKeyID == new.id.description)
        let pin = try TokenPIN.withUnwrapped(
            [UInt8](moved.wrappedPin), customKeyStoreID: "cks-1", keyring: RootKeyring(keys: [new])
        ) { String(decoding: $0, as: UTF8.self) }
        #expect(pin == "1234-pin")

        // Bound to its store.
        rewrap.customKeyStoreID = "cks-2"
        #expect(throws: KMSError.self) { try worker.rewrapTokenPin(rewrap) }
    }

    @Test func refusesMalformedRequestsBeforeAnyToken() async throws {
        let worker = CryptoWorker(keyring: RootKeyring(keys: [RootKey.generate()]))
        var wrap = WorkerWrapTokenPinRequest()
        wrap.customKeyStoreID = "cks-1"
        wrap.pin = ""
        #expect(await Self.code { _ = try worker.wrapTokenPin(wrap) } == .validation)
        wrap.pin = "pin\u{0}"
        #expect(await Self.code { _ = try worker.wrapTokenPin(wrap) } == .validation)
        wrap.pin = "1234"
        wrap.customKeyStoreID = "cks/../1"
        #expect(await Self.code { _ = try worker.wrapTokenPin(wrap) } == .validation)
        wrap.customKeyStoreID = "cks-1"
        let pin = try worker.wrapTokenPin(wrap).wrappedPin

        var token = WorkerTokenRef()
        token.customKeyStoreID = "cks-1"
        token.tokenLabel = "label"
        token.wrappedPin = pin
        let id = UUID().uuidString.lowercased()
        var key = WorkerKeyRef()
        key.keyID = id
        key.keyArn = "arn:aws:kms:us-east-1:111122223333:key/\(id)"
        key.material.materialID = Data(MaterialID.random().bytes)

        var encrypt = WorkerTokenEncryptRequest()
        encrypt.token = token
        encrypt.key = key
        encrypt.plaintext = Data([1])
        // No module configured: none may be named, and none is loaded.
        #expect(await Self.code { _ = try await worker.tokenEncrypt(encrypt) } == .cloudHsmClusterInvalidConfiguration)

        var bad = encrypt
        bad.token.tokenLabel = String(repeating: "x", count: 33)
        #expect(await Self.code { _ = try await worker.tokenEncrypt(bad) } == .validation)
        bad = encrypt
        bad.token.wrappedPin = Data("1234".utf8)
        #expect(await Self.code { _ = try await worker.tokenEncrypt(bad) } == .validation)
        bad = encrypt
        bad.key.keyArn = "arn:aws:kms:us-east-1:111122223333:key/\(UUID().uuidString.lowercased())"
        #expect(await Self.code { _ = try await worker.tokenEncrypt(bad) } == .validation)
        bad = encrypt
        bad.key.keySpec = .rsa2048
        #expect(await Self.code { _ = try await worker.tokenEncrypt(bad) } == .validation)
        bad = encrypt
        bad.key.material.materialID = Data([1, 2, 3])
        #expect(await Self.code { _ = try await worker.tokenEncrypt(bad) } == .validation)
        bad = encrypt
        bad.plaintext = Data(count: 4097)
        #expect(await Self.code { _ = try await worker.tokenEncrypt(bad) } == .validation)

        var decrypt = WorkerTokenDecryptRequest()
        decrypt.token = token
        decrypt.key = key
        decrypt.ciphertextBlob = Data([1, 2, 3])
        #expect(await Self.code { _ = try await worker.tokenDecrypt(decrypt) } == .invalidCiphertext)
        await worker.shutdown()
    }
}
