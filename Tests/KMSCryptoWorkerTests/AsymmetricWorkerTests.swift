import Foundation
import KMSRPC
import KMSTestSupport
import KMSWorkerProto
import Testing

/// The worker's asymmetric, HMAC and import rpcs over its socket, and what it refuses: material
/// used for an operation of another kind, a spec it was not made for, requests of the wrong shape.
@Suite struct AsymmetricWorkerTests {
    static func newKey(_ c: RPCClientConnection, spec: WorkerKeySpec) async throws -> WorkerKeyRef {
        let id = UUID().uuidString.lowercased()
        var request = WorkerGenerateKeyMaterialRequest()
        request.keyID = id
        request.keyArn = "arn:aws:kms:us-east-1:111122223333:key/\(id)"
        request.kind = .byKeySpec
        request.keySpec = spec
        let response = try await c.call(WorkerMethod.generateKeyMaterial, request)
        var ref = WorkerKeyRef()
        ref.keyID = id
        ref.keyArn = request.keyArn
        ref.keySpec = spec
        ref.material = response.material
        return ref
    }

    @Test func signMacAndKeyAgreementAndTheirMisuse() async throws {
        let worker = try await WorkerProcess()
        try await worker.start()
        let c = try await worker.connect()
        let ecc = try await Self.newKey(c, spec: .eccNistP256)
        let hmac = try await Self.newKey(c, spec: .hmac256)
        let symmetric = try await CryptoWorkerProcessTests.newKey(c)

        var sign = WorkerSignRequest()
        sign.key = ecc
        sign.message = Data(repeating: 1, count: 32)
        sign.messageType = .digest
        sign.signingAlgorithm = .ecdsaSha256
        let signature = try await c.call(WorkerMethod.sign, sign).signature
        var verify = WorkerVerifyRequest()
        verify.key = ecc
        verify.message = sign.message
        verify.messageType = .digest
        verify.signingAlgorithm = .ecdsaSha256
        verify.signature = signature
        #expect(try await c.call(WorkerMethod.verify, verify).signatureValid)
        verify.signature = Data(signature.reversed())
        #expect(try await c.call(WorkerMethod.verify, verify).signatureValid == false)

        var publicKey = WorkerGetPublicKeyRequest()
        publicKey.key = ecc
        #expect(try await c.call(WorkerMethod.getPublicKey, publicKey).publicKey.count == 91)  // P-256 SPKI

        var mac = WorkerGenerateMacRequest()
        mac.key = hmac
        mac.message = Data("m".utf8)
        mac.macAlgorithm = .hmacSha256
        let tag = try await c.call(WorkerMethod.generateMac, mac).mac
        var check = WorkerVerifyMacRequest()
        check.key = hmac
        check.message = mac.message
        check.macAlgorithm = .hmacSha256
        check.mac = tag
        #expect(try await c.call(WorkerMethod.verifyMac, check).macValid)
        check.mac = Data(tag.dropLast())
        #expect(try await c.call(WorkerMethod.verifyMac, check).macValid == false)

        // Material used for what it is not: refused, and the worker keeps serving.
        sign.key = symmetric
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.sign, sign) }
                == "InvalidKeyUsageException")
        mac.key = ecc
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.generateMac, mac) }
                == "InvalidKeyUsageException")
        mac.key = hmac
        mac.macAlgorithm = .hmacSha512
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.generateMac, mac) }
                == "InvalidKeyUsageException")
        var encrypt = WorkerEncryptRequest()
        encrypt.key = hmac
        encrypt.plaintext = Data([1])
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.encrypt, encrypt) }
                == "InvalidKeyUsageException")
        // A key ref claiming another spec than its material: the stored blob does not parse as one.
        var lying = ecc
        lying.keySpec = .eccNistP384
        publicKey.key = lying
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.getPublicKey, publicKey) }
                == "KMSInternalException")
        // A value this build does not know (a kmsd of another build): refused, never guessed or fatal.
        sign.key = ecc
        sign.signingAlgorithm = .UNRECOGNIZED(99)
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.sign, sign) }
                == "ValidationException")
        sign.signingAlgorithm = .ecdsaSha256
        sign.message = Data(repeating: 1, count: 31)
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.sign, sign) }
                == "ValidationException")
        var derive = WorkerDeriveSharedSecretRequest()
        derive.key = ecc
        derive.publicKey = Data("not a key".utf8)
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.deriveSharedSecret, derive) }
                == "ValidationException")
        var generate = WorkerGenerateKeyMaterialRequest()
        generate.keyID = UUID().uuidString.lowercased()
        generate.keyArn = "arn:aws:kms:us-east-1:111122223333:key/\(generate.keyID)"
        generate.kind = .byKeySpec
        generate.keySpec = .sm2
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.generateKeyMaterial, generate) }
                == "ValidationException")
        var importing = WorkerImportKeyMaterialRequest()
        importing.key.keyID = ecc.keyID
        importing.key.keyArn = ecc.keyArn
        importing.key.keySpec = .eccNistP256
        importing.importToken = Data("garbage".utf8)
        importing.encryptedKeyMaterial = Data([1])
        #expect(
            await CryptoWorkerProcessTests.code { _ = try await c.call(WorkerMethod.importKeyMaterial, importing) }
                == "InvalidImportTokenException")
        #expect(try await c.call(WorkerMethod.describe, WorkerDescribeRequest()).rootKeyIds.count == 1)
        await c.close()
        await worker.stop()
    }
}
