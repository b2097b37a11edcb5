import Foundation
import KMSPKCS11
import KMSRPC
import KMSTestSupport
import KMSWorkerProto
import Testing

/// The PKCS #11 token operations through a real kms-cryptod process and a SoftHSM2 token.
@Suite struct TokenWorkerTests {
    static let account = "111122223333"

    /// A kms-cryptod allowed SoftHSM2's module as "softhsm", and a token of its own.
    struct Stack {
        let worker: WorkerProcess
        let softhsm: SoftHSMToken
        let connection: RPCClientConnection

        /// `shared`: a token of the test process's own SoftHSM2 configuration, which the test may open too.
        static func start(extraArguments: [String] = [], pin: String = SoftHSMToken.defaultPIN, shared: Bool = false)
            async throws -> Stack
        {
            let softhsm = shared ? try await SoftHSMToken.shared() : try await SoftHSMToken(pin: pin)
            let worker = try await WorkerProcess()
            try await worker.start(
                extraArguments: ["--pkcs11-module", "softhsm=\(softhsm.modulePath)"] + extraArguments,
                childEnvironment: softhsm.environment)
            return Stack(worker: worker, softhsm: softhsm, connection: try await worker.connect())
        }

        func ref(store: String = "cks-0123456789abcdef0", pin: String? = nil, label: String? = nil, module: String = "")
            async throws -> WorkerTokenRef
        {
            var wrap = WorkerWrapTokenPinRequest()
            wrap.customKeyStoreID = store
            wrap.pin = pin ?? self.softhsm.pin
            var ref = WorkerTokenRef()
            ref.customKeyStoreID = store
            ref.module = module
            ref.tokenLabel = label ?? self.softhsm.label
            ref.wrappedPin = try await self.connection.call(WorkerMethod.wrapTokenPin, wrap).wrappedPin
            return ref
        }

        func createKey(_ token: WorkerTokenRef) async throws -> WorkerKeyRef {
            let id = UUID().uuidString.lowercased()
            var request = WorkerCreateTokenKeyRequest()
            request.token = token
            request.keyID = id
            request.keyArn = "arn:aws:kms:us-east-1:\(TokenWorkerTests.account):key/\(id)"
            let response = try await self.connection.call(WorkerMethod.createTokenKey, request)
            #expect(
                response.tokenKeyLabel == "\(id)/\(response.materialID.map { String(format: "%02x", $0) }.joined())")
            var key = WorkerKeyRef()
            key.keyID = id
            key.keyArn = request.keyArn
            key.material.materialID = response.materialID
            return key
        }

        func encrypt(
            _ token: WorkerTokenRef, _ key: WorkerKeyRef, _ plaintext: [UInt8], _ context: [String: String] = [:]
        )
            async throws -> Data
        {
            var request = WorkerTokenEncryptRequest()
            request.token = token
            request.key = key
            request.plaintext = Data(plaintext)
            request.encryptionContext = context
            return try await self.connection.call(WorkerMethod.tokenEncrypt, request).ciphertextBlob
        }

        func decrypt(_ token: WorkerTokenRef, _ key: WorkerKeyRef, _ blob: Data, _ context: [String: String] = [:])
            async throws -> [UInt8]
        {
            var request = WorkerTokenDecryptRequest()
            request.token = token
            request.key = key
            request.ciphertextBlob = blob
            request.encryptionContext = context
            return Array(try await self.connection.call(WorkerMethod.tokenDecrypt, request).plaintext)
        }

        func connect(_ token: WorkerTokenRef) async throws -> WorkerConnectTokenResponse {
            var request = WorkerConnectTokenRequest()
            request.token = token
            return try await self.connection.call(WorkerMethod.connectToken, request)
        }

        func stop() async {
            await self.connection.close()
            await self.worker.stop()
        }
    }

    /// The RPC error a call threw (nil when it did not throw).
    static func failure(_ body: () async throws -> Void) async -> RPCError? {
        do {
            try await body()
            return nil
        } catch let error as RPCError {
            return error
        } catch {
            Issue.record("not an RPCError: \(error)")
            return nil
        }
    }

    @Test func tokenKeysEndToEnd() async throws {
        let stack = try await Stack.start()
        let token = try await stack.ref()
        let connected = try await stack.connect(token)
        #expect(connected.connected)
        #expect(connected.connectionErrorCode.isEmpty)
        #expect(connected.tokenInfo.label == stack.softhsm.label)
        #expect(connected.tokenInfo.manufacturer == "SoftHSM project")

        let a = try await stack.createKey(token)
        let b = try await stack.createKey(token)
        #expect(a.material.materialID != b.material.materialID)

        let secret = Array("the launch codes".utf8)
        let context = ["app": "billing"]
        let blob = try await stack.encrypt(token, a, secret, context)
        #expect(blob.count == secret.count + 1 + 16 + 32 + 12 + 16)
        #expect(blob.first == 2)
        #expect(!blob.contains(Data(secret)))
        #expect(try await stack.decrypt(token, a, blob, context) == secret)
        // Two encryptions of one plaintext differ (fresh nonce).
        #expect(try await stack.encrypt(token, a, secret, context) != blob)

        // The AAD binds the context, the key and its ARN.
        #expect(
            await Self.failure { _ = try await stack.decrypt(token, a, blob, [:]) }?.code
                == "InvalidCiphertextException")
        #expect(
            await Self.failure { _ = try await stack.decrypt(token, a, blob, ["app": "payroll"]) }?.code
                == "InvalidCiphertextException")
        #expect(
            await Self.failure { _ = try await stack.decrypt(token, b, blob, context) }?.code == "IncorrectKeyException"
        )
        var otherRegion = a
        otherRegion.keyArn = a.keyArn.replacingOccurrences(of: "us-east-1", with: "eu-west-1")
        #expect(
            await Self.failure { _ = try await stack.decrypt(token, otherRegion, blob, context) }?.code
                == "InvalidCiphertextException")
        var damaged = blob
        damaged[damaged.count - 1] ^= 0x80
        #expect(
            await Self.failure { _ = try await stack.decrypt(token, a, damaged, context) }?.code
                == "InvalidCiphertextException")
        #expect(
            await Self.failure { _ = try await stack.decrypt(token, a, Data([2, 1]), context) }?.code
                == "InvalidCiphertextException")
        #expect(await Self.failure { _ = try await stack.encrypt(token, a, []) }?.code == "ValidationException")

        // GenerateDataKey, with and without the plaintext.
        var dataKey = WorkerTokenGenerateDataKeyRequest()
        dataKey.token = token
        dataKey.key = a
        dataKey.numberOfBytes = 32
        dataKey.encryptionContext = context
        dataKey.includePlaintext = true
        let generated = try await stack.connection.call(WorkerMethod.tokenGenerateDataKey, dataKey)
        #expect(generated.plaintext.count == 32)
        #expect(try await stack.decrypt(token, a, generated.ciphertextBlob, context) == Array(generated.plaintext))
        dataKey.includePlaintext = false
        let withoutPlaintext = try await stack.connection.call(WorkerMethod.tokenGenerateDataKey, dataKey)
        #expect(withoutPlaintext.plaintext.isEmpty)
        #expect(try await stack.decrypt(token, a, withoutPlaintext.ciphertextBlob, context).count == 32)

        // Health.
        var check = WorkerCheckTokenRequest()
        check.token = token
        let health = try await stack.connection.call(WorkerMethod.checkToken, check)
        #expect(health.healthy)
        #expect(health.tokenInfo.label == stack.softhsm.label)

        // Disconnect; the next call logs in again from the request's wrapped PIN.
        var disconnect = WorkerDisconnectTokenRequest()
        disconnect.customKeyStoreID = token.customKeyStoreID
        #expect(try await stack.connection.call(WorkerMethod.disconnectToken, disconnect).wasConnected)
        #expect(try await !stack.connection.call(WorkerMethod.disconnectToken, disconnect).wasConnected)
        #expect(try await stack.decrypt(token, a, blob, context) == secret)

        // Destroy: the material is gone, for good.
        var destroy = WorkerDestroyTokenKeyRequest()
        destroy.token = token
        destroy.key = a
        #expect(try await stack.connection.call(WorkerMethod.destroyTokenKey, destroy).destroyed)
        #expect(try await !stack.connection.call(WorkerMethod.destroyTokenKey, destroy).destroyed)
        #expect(
            await Self.failure { _ = try await stack.decrypt(token, a, blob, context) }?.code
                == "KMSInvalidStateException")
        #expect(try await stack.decrypt(token, b, try await stack.encrypt(token, b, [1]), [:]) == [1])

        // A restarted worker needs no Connect: every request carries what it needs.
        await stack.connection.close()
        await stack.worker.crash()
        try await stack.worker.start(
            extraArguments: ["--pkcs11-module", "softhsm=\(stack.softhsm.modulePath)"],
            childEnvironment: stack.softhsm.environment)
        let again = Stack(worker: stack.worker, softhsm: stack.softhsm, connection: try await stack.worker.connect())
        let blobB = try await again.encrypt(token, b, secret)
        #expect(try await again.decrypt(token, b, blobB) == secret)
        await again.stop()
    }

    @Test func theTokenKeyStaysInTheToken() async throws {
        // Through KMSPKCS11's own view of the same token: CKA_VALUE is refused, CKA_EXTRACTABLE false.
        let stack = try await Stack.start(shared: true)
        let token = try await stack.ref()
        let key = try await stack.createKey(token)
        await stack.stop()
        let module = try PKCS11Module.load(path: stack.softhsm.modulePath)
        let direct = try PKCS11Token.connect(
            module: module, label: stack.softhsm.label, pin: Array(stack.softhsm.pin.utf8))
        defer { direct.close() }
        let label = "\(key.keyID)/\(key.material.materialID.map { String(format: "%02x", $0) }.joined())"
        let protection = try direct.protection(ofKey: label)
        #expect(!protection.extractable)
        #expect(protection.sensitive)
        #expect(protection.neverExtractable)
        #expect(protection.valueReadResult == .attributeSensitive)
    }

    /// Runs `body`, then stops `stack` whether or not it threw: a `defer` that starts a Task may
    /// not run before the test binary exits, and the child processes left would hold swift
    /// test's output open (it then never ends).
    static func stopping(_ stack: Stack, _ body: () async throws -> Void) async throws {
        do { try await body() } catch {
            await stack.stop()
            throw error
        }
        await stack.stop()
    }

    @Test func wrongPINIsAConnectionErrorWithoutThePIN() async throws {
        let stack = try await Stack.start(pin: "the-right-pin-31")
        try await Self.stopping(stack) {
            let wrong = try await stack.ref(pin: "the-wrong-pin-42")
            let answer = try await stack.connect(wrong)
            #expect(!answer.connected)
            #expect(answer.connectionErrorCode == "INVALID_CREDENTIALS")
            #expect(answer.message.contains("CKR_PIN_INCORRECT"))
            #expect(!answer.message.contains("the-wrong-pin-42"))
            #expect(!answer.message.contains("the-right-pin-31"))

            var create = WorkerCreateTokenKeyRequest()
            create.token = wrong
            create.keyID = UUID().uuidString.lowercased()
            create.keyArn = "arn:aws:kms:us-east-1:\(Self.account):key/\(create.keyID)"
            let error = await Self.failure { _ = try await stack.connection.call(WorkerMethod.createTokenKey, create) }
            #expect(error?.code == "CustomKeyStoreInvalidStateException")
            #expect(error?.message.contains("CKR_PIN_INCORRECT") == true)
            #expect(error?.message.contains("the-wrong-pin-42") == false)

            // The refused PIN is not tried again on a call's behalf for a while (an HSM would lock
            // its user out): the same error, said so.
            let again = await Self.failure { _ = try await stack.connection.call(WorkerMethod.createTokenKey, create) }
            #expect(again?.code == "CustomKeyStoreInvalidStateException")
            #expect(again?.message.contains("tries this PIN again after 30 s") == true)

            // The right PIN connects after the wrong one.
            #expect(try await stack.connect(try await stack.ref(pin: "the-right-pin-31")).connected)
        }
    }

    @Test func aWrappedPINBelongsToItsStore() async throws {
        let stack = try await Stack.start()
        try await Self.stopping(stack) {
            var moved = try await stack.ref(store: "cks-aaaaaaaaaaaaaaaaa")
            moved.customKeyStoreID = "cks-bbbbbbbbbbbbbbbbb"
            let answer = try await stack.connect(moved)
            #expect(!answer.connected)
            #expect(answer.message.contains("KMSInternalException"))
            var bad = moved
            bad.wrappedPin = Data([1, 2, 3])
            #expect(await Self.failure { _ = try await stack.connect(bad) }?.code == "ValidationException")
        }
    }

    @Test func oneTokenServesOneStore() async throws {
        let stack = try await Stack.start()
        try await Self.stopping(stack) {
            #expect(try await stack.connect(try await stack.ref(store: "cks-first")).connected)
            let second = try await stack.connect(try await stack.ref(store: "cks-second"))
            #expect(!second.connected)
            #expect(second.message.hasPrefix("CloudHsmClusterInUseException"))
        }
    }

    @Test func unknownTokenLabelAndModules() async throws {
        let stack = try await Stack.start(extraArguments: [
            "--pkcs11-module", "missing=/nonexistent/libpkcs11.so",
            "--pkcs11-module", "notpkcs11=/lib/x86_64-linux-gnu/libz.so.1",
        ])
        try await Self.stopping(stack) {
            let unknown = try await stack.connect(try await stack.ref(label: "no-such-token", module: "softhsm"))
            #expect(!unknown.connected)
            #expect(unknown.connectionErrorCode == "CLUSTER_NOT_FOUND")
            let key = UUID().uuidString.lowercased()
            var create = WorkerCreateTokenKeyRequest()
            create.token = try await stack.ref(label: "no-such-token", module: "softhsm")
            create.keyID = key
            create.keyArn = "arn:aws:kms:us-east-1:\(Self.account):key/\(key)"
            #expect(
                await Self.failure { _ = try await stack.connection.call(WorkerMethod.createTokenKey, create) }?.code
                    == "CloudHsmClusterNotFoundException")

            let missing = try await stack.connect(try await stack.ref(module: "missing"))
            #expect(!missing.connected)
            #expect(missing.connectionErrorCode == "INTERNAL_ERROR")
            #expect(missing.message.contains("CloudHsmClusterInvalidConfigurationException"))
            #expect(missing.message.contains("/nonexistent/libpkcs11.so"))
            let notPKCS11 = try await stack.connect(try await stack.ref(module: "notpkcs11"))
            #expect(!notPKCS11.connected)
            #expect(notPKCS11.message.contains("not a PKCS #11 module"))

            // A module no one configured is never loaded: the API names modules, not paths.
            let evil = try await stack.ref(module: "/usr/lib/evil.so")
            let unconfigured = try await stack.connect(evil)
            #expect(!unconfigured.connected)
            #expect(unconfigured.message.hasPrefix("CloudHsmClusterInvalidConfigurationException"))
            #expect(unconfigured.message.contains("no PKCS #11 module named /usr/lib/evil.so"))
            create.token = evil
            #expect(
                await Self.failure { _ = try await stack.connection.call(WorkerMethod.createTokenKey, create) }?.code
                    == "CloudHsmClusterInvalidConfigurationException")
            // With three modules configured, the module must be named.
            let unnamed = try await stack.connect(try await stack.ref())
            #expect(unnamed.message.hasPrefix("CloudHsmClusterInvalidConfigurationException"))
        }
    }

    @Test func concurrentCalls() async throws {
        let stack = try await Stack.start(extraArguments: ["--pkcs11-sessions", "3"])
        try await Self.stopping(stack) {
            let token = try await stack.ref()
            let key = try await stack.createKey(token)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<8 {
                    group.addTask {
                        for round in 0..<15 {
                            let plaintext = [UInt8](repeating: UInt8(task), count: round + 1)
                            let context = ["task": "\(task)", "round": "\(round)"]
                            let blob = try await stack.encrypt(token, key, plaintext, context)
                            let opened = try await stack.decrypt(token, key, blob, context)
                            #expect(opened == plaintext)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func kmsCryptodRefusesBadModuleFlags() async throws {
        for flag in ["softhsm", "softhsm=relative/lib.so", "bad name=/lib.so", "=/lib.so"] {
            let worker = try await WorkerProcess()
            let result = try await WorkerProcess.run([
                "serve", "--root-key-file", worker.keyringPath, "--socket", worker.socketPath, "--pkcs11-module", flag,
            ])
            #expect(result.status != 0)
            #expect(result.output.contains("--pkcs11-module"))
        }
    }
}
