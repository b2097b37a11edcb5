import Foundation
import KMSCryptoWorker
import KMSDomain
import KMSRPC
import KMSServer
import KMSTestSupport
import KMSWorkerProto
import Testing

/// kmsd's crypto backend in-process: the worker's own handlers, no kms-cryptod started. Its
/// answers, and its failures, are what kmsd gets from kms-cryptod over the socket.
@Suite struct InProcessCryptoBackendTests {
    /// Runs `body` on a fresh backend and stops the backend's threads however `body` ends.
    static func withBackend(_ body: (InProcessCryptoBackend) async throws -> Void) async throws {
        let backend = InProcessCryptoBackend()
        do {
            try await body(backend)
        } catch {
            await backend.shutdown()
            throw error
        }
        await backend.shutdown()
    }

    static func newKey(_ backend: any CryptoBackend) async throws -> WorkerKeyRef {
        let id = UUID().uuidString.lowercased()
        var request = WorkerGenerateKeyMaterialRequest()
        request.keyID = id
        request.keyArn = "arn:aws:kms:us-east-1:111122223333:key/\(id)"
        request.kind = .symmetric256
        let response = try await backend.call(WorkerMethod.generateKeyMaterial, request)
        var ref = WorkerKeyRef()
        ref.keyID = id
        ref.keyArn = request.keyArn
        ref.material = response.material
        return ref
    }

    /// The KMSError `body` threw, nil when it did not throw (anything else is an issue).
    static func failure(_ body: () async throws -> Void) async -> KMSError? {
        do {
            try await body()
            return nil
        } catch let error as KMSError {
            return error
        } catch {
            Issue.record("not a KMSError: \(error)")
            return nil
        }
    }

    @Test func generateEncryptDecryptRoundTrips() async throws {
        try await Self.withBackend { backend in
            let crypto: any CryptoBackend = backend
            let key = try await Self.newKey(crypto)
            let plaintext = Data("the launch codes".utf8)
            var encrypt = WorkerEncryptRequest()
            encrypt.key = key
            encrypt.plaintext = plaintext
            encrypt.encryptionContext = ["app": "billing"]
            let blob = try await crypto.call(WorkerMethod.encrypt, encrypt).ciphertextBlob
            #expect(!blob.isEmpty)
            #expect(blob.range(of: plaintext) == nil)
            var decrypt = WorkerDecryptRequest()
            decrypt.key = key
            decrypt.ciphertextBlob = blob
            decrypt.encryptionContext = ["app": "billing"]
            #expect(try await crypto.call(WorkerMethod.decrypt, decrypt).plaintext == plaintext)
        }
    }

    /// A damaged ciphertext fails with InvalidCiphertextException (as CryptoWorkerProcessTests
    /// sees from kms-cryptod), the very error the worker threw: code, message and retryability.
    @Test func aDamagedCiphertextIsTheWorkersInvalidCiphertext() async throws {
        try await Self.withBackend { backend in
            let key = try await Self.newKey(backend)
            var encrypt = WorkerEncryptRequest()
            encrypt.key = key
            encrypt.plaintext = Data("the launch codes".utf8)
            var decrypt = WorkerDecryptRequest()
            decrypt.key = key
            decrypt.ciphertextBlob = try await backend.call(WorkerMethod.encrypt, encrypt).ciphertextBlob
            let last = decrypt.ciphertextBlob.index(before: decrypt.ciphertextBlob.endIndex)
            decrypt.ciphertextBlob[last] ^= 0x80
            let failure = try #require(await Self.failure { _ = try await backend.call(WorkerMethod.decrypt, decrypt) })
            #expect(failure.code == .invalidCiphertext)
            #expect(!failure.retryable)
            let direct = try #require(await Self.failure { _ = try await backend.worker.decrypt(decrypt).value() })
            #expect(failure == direct)
        }
    }

    /// A key spec the worker does not know is its ValidationException, as it says it.
    @Test func anUnknownKeySpecIsTheWorkersValidationError() async throws {
        try await Self.withBackend { backend in
            let id = UUID().uuidString.lowercased()
            var request = WorkerGenerateKeyMaterialRequest()
            request.keyID = id
            request.keyArn = "arn:aws:kms:us-east-1:111122223333:key/\(id)"
            request.kind = .byKeySpec
            request.keySpec = .UNRECOGNIZED(42)
            let failure = try #require(
                await Self.failure { _ = try await backend.call(WorkerMethod.generateKeyMaterial, request) })
            #expect(failure.code == .validation)
            let direct = try #require(await Self.failure { _ = try await backend.worker.generateKeyMaterial(request) })
            #expect(failure == direct)
        }
    }

    /// A method kms-cryptod does not serve is, as from the socket, an answer that is not valid:
    /// a retryable DependencyTimeoutException, never the link's own code.
    @Test func aMethodTheWorkerDoesNotServeIsADependencyFailure() async throws {
        try await Self.withBackend { backend in
            let unknown = RPCMethod<WorkerDescribeRequest, WorkerDescribeResponse>("NoSuchWorkerMethod")
            let failure = try #require(
                await Self.failure { _ = try await backend.call(unknown, WorkerDescribeRequest()) })
            #expect(failure == WorkerPool.map(.unknownOperation("NoSuchWorkerMethod")))
            #expect(failure.code == .dependencyTimeout)
            #expect(failure.retryable)
        }
    }
}
