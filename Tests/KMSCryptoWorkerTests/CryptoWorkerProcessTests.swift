import Foundation
import KMSCrypto
import KMSRPC
import KMSTestSupport
import KMSWorkerProto
import NIOCore
import NIOPosix
import Testing

/// Drives a real kms-cryptod process over the framed RPC on its Unix socket.
@Suite struct CryptoWorkerProcessTests {
    static func newKey(_ connection: RPCClientConnection, account: String = "111122223333") async throws -> WorkerKeyRef
    {
        let id = UUID().uuidString.lowercased()
        var request = WorkerGenerateKeyMaterialRequest()
        request.keyID = id
        request.keyArn = "arn:aws:kms:us-east-1:\(account):key/\(id)"
        request.kind = .symmetric256
        let response = try await connection.call(WorkerMethod.generateKeyMaterial, request)
        var ref = WorkerKeyRef()
        ref.keyID = id
        ref.keyArn = request.keyArn
        ref.material = response.material
        return ref
    }

    static func encrypt(
        _ c: RPCClientConnection, _ key: WorkerKeyRef, _ plaintext: [UInt8], _ context: [String: String] = [:]
    ) async throws -> Data {
        var request = WorkerEncryptRequest()
        request.key = key
        request.plaintext = Data(plaintext)
        request.encryptionContext = context
        return try await c.call(WorkerMethod.encrypt, request).ciphertextBlob
    }

    static func decrypt(_ c: RPCClientConnection, _ key: WorkerKeyRef, _ blob: Data, _ context: [String: String] = [:])
        async throws -> Data
    {
        var request = WorkerDecryptRequest()
        request.key = key
        request.ciphertextBlob = blob
        request.encryptionContext = context
        return try await c.call(WorkerMethod.decrypt, request).plaintext
    }

    /// Runs `body` and returns the RPC error code it threw (nil when it did not throw).
    static func code(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as RPCError {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    @Test func symmetricOperationsEndToEnd() async throws {
        let worker = try await WorkerProcess()
        try await worker.start()
        let c = try await worker.connect()

        let describe = try await c.call(WorkerMethod.describe, WorkerDescribeRequest())
        #expect(describe.rootKeyIds.count == 1)

        let a = try await Self.newKey(c)
        let b = try await Self.newKey(c)
        #expect(a.material.materialID.count == 32)
        #expect(a.material.materialID != b.material.materialID)

        // Encrypt / Decrypt with a context.
        let secret = Array("the launch codes".utf8)
        let context = ["app": "billing", "env": "prod"]
        let blob = try await Self.encrypt(c, a, secret, context)
        #expect(Array(try await Self.decrypt(c, a, blob, context)) == secret)
        #expect(!blob.contains(Data(secret)))

        // Wrong context, other key, damaged blob.
        #expect(
            await Self.code { _ = try await Self.decrypt(c, a, blob, ["app": "billing"]) }
                == "InvalidCiphertextException")
        #expect(await Self.code { _ = try await Self.decrypt(c, b, blob, context) } == "IncorrectKeyException")
        var damaged = blob
        damaged[damaged.count - 1] ^= 0x80
        #expect(await Self.code { _ = try await Self.decrypt(c, a, damaged, context) } == "InvalidCiphertextException")
        #expect(
            await Self.code { _ = try await Self.decrypt(c, a, Data([1, 2, 3]), context) }
                == "InvalidCiphertextException")

        // Size limits.
        #expect(await Self.code { _ = try await Self.encrypt(c, a, []) } == "ValidationException")
        #expect(
            await Self.code { _ = try await Self.encrypt(c, a, [UInt8](repeating: 1, count: 4097)) }
                == "ValidationException")
        let largest = try await Self.encrypt(c, a, [UInt8](repeating: 1, count: 4096))
        #expect(try await Self.decrypt(c, a, largest).count == 4096)

        // GenerateDataKey with and without plaintext.
        var dataKeyRequest = WorkerGenerateDataKeyRequest()
        dataKeyRequest.key = a
        dataKeyRequest.numberOfBytes = 32
        dataKeyRequest.encryptionContext = context
        dataKeyRequest.includePlaintext = true
        let dataKey = try await c.call(WorkerMethod.generateDataKey, dataKeyRequest)
        #expect(dataKey.plaintext.count == 32)
        #expect(try await Self.decrypt(c, a, dataKey.ciphertextBlob, context) == dataKey.plaintext)
        dataKeyRequest.includePlaintext = false
        let withoutPlaintext = try await c.call(WorkerMethod.generateDataKey, dataKeyRequest)
        #expect(withoutPlaintext.plaintext.isEmpty)
        #expect(try await Self.decrypt(c, a, withoutPlaintext.ciphertextBlob, context).count == 32)
        // The data key, the blob's salt and its nonce come from one read of the generator: each
        // its own bytes, whatever the length.
        dataKeyRequest.includePlaintext = true
        var seen: Set<Data> = []
        for length in [1, 28, 29, 1024] {
            dataKeyRequest.numberOfBytes = UInt32(length)
            let made = try await c.call(WorkerMethod.generateDataKey, dataKeyRequest)
            #expect(made.plaintext.count == length)
            #expect(try await Self.decrypt(c, a, made.ciphertextBlob, context) == made.plaintext)
            let end = SymmetricCiphertext.headerLength
            let saltAndNonce = made.ciphertextBlob[
                (end - SymmetricCiphertext.saltLength - SymmetricCiphertext.nonceLength)..<end]
            #expect(made.plaintext.range(of: Data(saltAndNonce)) == nil)
            #expect(seen.insert(Data(saltAndNonce)).inserted && seen.insert(made.plaintext).inserted)
        }
        dataKeyRequest.numberOfBytes = 32
        for bad in [0, 1025] {
            dataKeyRequest.numberOfBytes = UInt32(bad)
            #expect(
                await Self.code { _ = try await c.call(WorkerMethod.generateDataKey, dataKeyRequest) }
                    == "ValidationException")
        }

        // ReEncrypt from a to b: the result opens under b only, with the new context.
        var reEncrypt = WorkerReEncryptRequest()
        reEncrypt.sourceKey = a
        reEncrypt.ciphertextBlob = blob
        reEncrypt.sourceEncryptionContext = context
        reEncrypt.destinationKey = b
        reEncrypt.destinationEncryptionContext = ["moved": "yes"]
        let moved = try await c.call(WorkerMethod.reEncrypt, reEncrypt).ciphertextBlob
        #expect(Array(try await Self.decrypt(c, b, moved, ["moved": "yes"])) == secret)
        #expect(
            await Self.code { _ = try await Self.decrypt(c, a, moved, ["moved": "yes"]) } == "IncorrectKeyException")
        reEncrypt.sourceEncryptionContext = [:]
        #expect(
            await Self.code { _ = try await c.call(WorkerMethod.reEncrypt, reEncrypt) } == "InvalidCiphertextException")

        // GenerateRandom.
        for count in [1, 1024] {
            var random = WorkerGenerateRandomRequest()
            random.numberOfBytes = UInt32(count)
            #expect(try await c.call(WorkerMethod.generateRandom, random).plaintext.count == count)
        }
        var tooMany = WorkerGenerateRandomRequest()
        tooMany.numberOfBytes = 1025
        #expect(await Self.code { _ = try await c.call(WorkerMethod.generateRandom, tooMany) } == "ValidationException")

        // Material moved to another key's ARN does not unwrap.
        var stolen = b
        stolen.material = a.material
        #expect(await Self.code { _ = try await Self.encrypt(c, stolen, [1]) } == "KMSInternalException")

        await c.close()
        await worker.stop()
    }

    @Test func materialOfAnotherKeyringIsReportedAsUnavailable() async throws {
        let mine = try await WorkerProcess()
        let theirs = try await WorkerProcess()
        try await mine.start()
        try await theirs.start()
        let myConnection = try await mine.connect()
        let theirConnection = try await theirs.connect()
        let foreign = try await Self.newKey(theirConnection)
        #expect(await Self.code { _ = try await Self.encrypt(myConnection, foreign, [1]) } == "KeyUnavailableException")
        await myConnection.close()
        await theirConnection.close()
        await mine.stop()
        await theirs.stop()
    }

    @Test func aRestartedWorkerDecryptsWhatItsPredecessorEncrypted() async throws {
        let worker = try await WorkerProcess()
        try await worker.start()
        var c = try await worker.connect()
        let key = try await Self.newKey(c)
        let blob = try await Self.encrypt(c, key, [4, 2])
        await c.close()
        await worker.stop()

        try await worker.start()
        c = try await worker.connect()
        #expect(Array(try await Self.decrypt(c, key, blob)) == [4, 2])
        await c.close()
        await worker.stop()
    }

    @Test func rootKeyRotationAndRewrap() async throws {
        let worker = try await WorkerProcess()
        try await worker.start()
        var c = try await worker.connect()
        let key = try await Self.newKey(c)
        let blob = try await Self.encrypt(c, key, [7, 7, 7])
        let firstRoot = try await c.call(WorkerMethod.describe, WorkerDescribeRequest()).rootKeyIds[0]
        await c.close()
        await worker.stop()

        #expect(try await WorkerProcess.run(["rotate-root-key", "--root-key-file", worker.keyringPath]).status == 0)
        try await worker.start()
        c = try await worker.connect()
        let roots = try await c.call(WorkerMethod.describe, WorkerDescribeRequest()).rootKeyIds
        #expect(roots.count == 2)
        #expect(roots[1] == firstRoot)

        // Old material still works, and re-wraps under the new root key.
        #expect(Array(try await Self.decrypt(c, key, blob)) == [7, 7, 7])
        var rewrap = WorkerRewrapKeyMaterialRequest()
        rewrap.key = key
        let rewrapped = try await c.call(WorkerMethod.rewrapKeyMaterial, rewrap)
        #expect(rewrapped.changed)
        #expect(rewrapped.rootKeyID == roots[0])
        var moved = key
        moved.material.wrapped = rewrapped.wrapped
        #expect(Array(try await Self.decrypt(c, moved, blob)) == [7, 7, 7])
        rewrap.key = moved
        #expect(try await c.call(WorkerMethod.rewrapKeyMaterial, rewrap).changed == false)
        await c.close()
        await worker.stop()
    }

    @Test func garbageOnOneConnectionLeavesTheWorkerServing() async throws {
        let worker = try await WorkerProcess()
        try await worker.start()
        let good = try await worker.connect()

        let raw = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: worker.socketPath).get()
        var garbage = ByteBuffer()
        garbage.writeInteger(UInt32(12))
        garbage.writeBytes([UInt8](repeating: 0xff, count: 12))
        try await raw.writeAndFlush(garbage)
        try await raw.closeFuture.get()

        #expect(
            await Self.code { _ = try await good.call(method: "MintMoney", payload: []) } == "UnknownOperationException"
        )
        #expect(try await good.call(WorkerMethod.describe, WorkerDescribeRequest()).rootKeyIds.count == 1)
        await good.close()
        await worker.stop()
    }

    @Test(
        .enabled(
            if: getuid() == 0 && FileManager.default.fileExists(atPath: "/usr/bin/setpriv")
                && FileManager.default.fileExists(atPath: "/usr/bin/python3")))
    func aPeerOfAnotherUidIsRefused() async throws {
        let worker = try await WorkerProcess()
        try await worker.start()
        // The worker answers once it listens, and sets its socket's mode (0600) just after: wait
        // for that, or the worker's chmod could land after this test's and close the socket
        // again (seen on a loaded machine).
        let deadline = ContinuousClock.now + .seconds(60)
        var status = stat()
        while stat(worker.socketPath, &status) != 0 || status.st_mode & 0o777 != 0o600 {
            guard ContinuousClock.now < deadline else {
                Issue.record("the worker never set its socket's mode to 0600")
                await worker.stop()
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        // Open the socket file and its folder to everyone, so that only the SO_PEERCRED check stands.
        chmod(worker.socketPath, 0o666)
        chmod(worker.directory.path, 0o755)
        let probe = """
            import socket, struct, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            body = bytes([0x08, 0x01, 0x12, 0x08]) + b"Describe" + bytes([0x1a, 0x00])
            try:
                s.sendall(struct.pack(">I", len(body)) + body)
                s.settimeout(5)
                print("answered" if s.recv(65536) else "closed")
            except (BrokenPipeError, ConnectionResetError):
                print("closed")  # refused before the request was even read
            """
        let output = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", probe, worker.socketPath],
            mergeStandardError: true
        ).stdoutText
        #expect(output.contains("closed") || output.contains("Connection reset"), "\(output)")
        #expect(!output.contains("answered"))
        await worker.stop()
    }
}
