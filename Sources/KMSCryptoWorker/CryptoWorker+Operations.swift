import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSRPC
import KMSWorkerProto

extension CryptoWorker {
    /// The root key ids, the active one first (kmsd re-wraps under the first), then the others
    /// newest first; and how much unwrapped material is cached; no secrets.
    public func describe(_ request: WorkerDescribeRequest) -> WorkerDescribeResponse {
        var response = WorkerDescribeResponse()
        let keyring = self.keyring
        let others = keyring.keys.reversed().filter { $0.id != keyring.active.id }
        response.rootKeyIds = ([keyring.active] + others).map(\.id.description)
        response.cachedMaterials = UInt32(clamping: self.cache.count)
        return response
    }

    /// New material for a key, wrapped under the active root key and bound to the key's ARN; its plaintext
    /// never leaves this process. Asymmetric keys are generated on a pool of their own (RSA-4096 takes seconds).
    public func generateKeyMaterial(_ request: WorkerGenerateKeyMaterialRequest) async throws(KMSError)
        -> WorkerGenerateKeyMaterialResponse
    {
        _ = try KeyID(parsing: request.keyID)
        guard !request.keyArn.isEmpty, request.keyArn.utf8.count <= 2048 else {
            throw .validation("key_arn must be 1..2048 characters")
        }
        let spec: KeySpec
        switch request.kind {
        case .symmetric256: spec = .symmetricDefault
        case .byKeySpec: spec = try Self.spec(request.keySpec, field: "key_spec")
        default: throw .unsupportedOperation("kms-cryptod cannot generate key material of kind \(request.kind)")
        }
        let materialID = MaterialID.random()
        let root = self.keyring.active
        let wrapped: [UInt8]
        if spec == .symmetricDefault {
            wrapped = MaterialWrapping.wrap(
                SymmetricKey(size: .bits256), kind: .symmetric256, keyARN: request.keyArn, materialID: materialID,
                under: root)
        } else if let hmac = spec.hmacKeyBytes {
            var bytes = randomBytes(hmac.generated)
            defer { zeroize(&bytes) }
            wrapped = MaterialWrapping.wrap(
                SymmetricKey(data: bytes), kind: .hmac, keyARN: request.keyArn, materialID: materialID, under: root)
        } else {
            let arn = request.keyArn
            wrapped = try await self.generation.run { () throws(KMSError) -> [UInt8] in
                try PrivateKey.generate(spec).withPKCS8DER { der in
                    MaterialWrapping.wrap(
                        SymmetricKey(data: der), kind: .privateKey, keyARN: arn, materialID: materialID, under: root)
                }
            }
        }
        var response = WorkerGenerateKeyMaterialResponse()
        response.material.materialID = Data(materialID.bytes)
        response.material.wrapped = Data(wrapped)
        response.rootKeyID = root.id.description
        return response
    }

    /// Re-wraps one material blob under the active root key (root key rotation).
    public func rewrapKeyMaterial(_ request: WorkerRewrapKeyMaterialRequest) throws(KMSError)
        -> WorkerRewrapKeyMaterialResponse
    {
        let ref = request.key
        let wrapped = [UInt8](ref.material.wrapped)
        let materialID = try MaterialID(bytes: ref.material.materialID)
        let (material, header) = try MaterialWrapping.unwrap(
            wrapped, keyARN: ref.keyArn, materialID: materialID, keyring: self.keyring
        )
        let active = self.keyring.active
        var response = WorkerRewrapKeyMaterialResponse()
        response.rootKeyID = active.id.description
        if header.rootKeyID == active.id {
            response.wrapped = ref.material.wrapped
            response.changed = false
        } else {
            response.wrapped = Data(
                MaterialWrapping.wrap(
                    material, kind: header.kind, keyARN: ref.keyArn, materialID: materialID, under: active
                ))
            response.changed = true
        }
        return response
    }

    /// SYMMETRIC_DEFAULT with the key's AES material, answered where the request arrived, or
    /// RSAES-OAEP with its public half, on the heavy pool.
    public func encrypt(_ request: WorkerEncryptRequest) throws(KMSError) -> RPCInlineOutcome<WorkerEncryptResponse> {
        try Limits.check(request.plaintext.count, in: Limits.plaintextBytes, field: "plaintext")
        let key = try self.resolve(request.key, field: "key")
        let algorithm = try request.encryptionAlgorithm.required("encryption_algorithm", unspecified: .symmetricDefault)
        return try self.heavy.outcome(pooled: try Self.isRSA(algorithm, key: key)) { () throws(KMSError) in
            var response = WorkerEncryptResponse()
            response.ciphertextBlob = Data(
                try Self.seal(request.plaintext, with: key, algorithm: algorithm, context: request.encryptionContext))
            return response
        }
    }

    /// Opens a ciphertext blob with the request's key material; the plaintext buffer is zeroed once copied out.
    public func decrypt(_ request: WorkerDecryptRequest) throws(KMSError) -> RPCInlineOutcome<WorkerDecryptResponse> {
        let blob = [UInt8](request.ciphertextBlob)
        try Limits.check(blob.count, in: Limits.ciphertextBlobBytes, field: "ciphertextBlob")
        let key = try self.resolve(request.key, field: "key")
        let algorithm = try request.encryptionAlgorithm.required("encryption_algorithm", unspecified: .symmetricDefault)
        return try self.heavy.outcome(pooled: try Self.isRSA(algorithm, key: key)) { () throws(KMSError) in
            var plaintext = try Self.open(blob, with: key, algorithm: algorithm, context: request.encryptionContext)
            defer { zeroize(&plaintext) }
            var response = WorkerDecryptResponse()
            response.plaintext = Data(plaintext)
            return response
        }
    }

    /// Decrypts under the source key and encrypts under the destination key; the plaintext
    /// never leaves this process. On the heavy pool when either side is RSA.
    public func reEncrypt(_ request: WorkerReEncryptRequest) throws(KMSError)
        -> RPCInlineOutcome<WorkerReEncryptResponse>
    {
        let blob = [UInt8](request.ciphertextBlob)
        try Limits.check(blob.count, in: Limits.ciphertextBlobBytes, field: "ciphertextBlob")
        let source = try self.resolve(request.sourceKey, field: "source_key")
        let destination = try self.resolve(request.destinationKey, field: "destination_key")
        let sourceAlgorithm = try request.sourceEncryptionAlgorithm.required(
            "source_encryption_algorithm", unspecified: .symmetricDefault)
        let destinationAlgorithm = try request.destinationEncryptionAlgorithm.required(
            "destination_encryption_algorithm", unspecified: .symmetricDefault)
        let rsaSource = try Self.isRSA(sourceAlgorithm, key: source)
        let rsaDestination = try Self.isRSA(destinationAlgorithm, key: destination)
        return try self.heavy.outcome(pooled: rsaSource || rsaDestination) { () throws(KMSError) in
            var plaintext = try Self.open(
                blob, with: source, algorithm: sourceAlgorithm, context: request.sourceEncryptionContext)
            defer { zeroize(&plaintext) }
            var response = WorkerReEncryptResponse()
            response.ciphertextBlob = Data(
                try Self.seal(
                    plaintext, with: destination, algorithm: destinationAlgorithm,
                    context: request.destinationEncryptionContext
                ))
            return response
        }
    }

    /// SYMMETRIC_DEFAULT with the key's AES material, or RSAES-OAEP with its public half (no
    /// context then: kmsd refuses one).
    private static func seal(
        _ plaintext: some DataProtocol, with key: ResolvedKey, algorithm: EncryptionAlgorithm,
        context: [String: String]
    ) throws(KMSError) -> [UInt8] {
        if algorithm == .symmetricDefault {
            return try SymmetricCiphertext.seal(
                plaintext, keyID: key.keyID, materialID: key.materialID, material: try key.symmetric(),
                encryptionContext: context
            )
        }
        return try key.privateKey().publicKey.encrypt([UInt8](plaintext), algorithm: algorithm)
    }

    private static func open(
        _ blob: [UInt8], with key: ResolvedKey, algorithm: EncryptionAlgorithm, context: [String: String]
    ) throws(KMSError) -> [UInt8] {
        if algorithm == .symmetricDefault {
            return try SymmetricCiphertext.open(
                blob, keyID: key.keyID, materialID: key.materialID, material: try key.symmetric(),
                encryptionContext: context
            )
        }
        return try key.privateKey().decrypt(blob, algorithm: algorithm)
    }

    /// False for SYMMETRIC_DEFAULT; true for an RSAES-OAEP algorithm the key's spec allows (its
    /// work belongs on the heavy pool); any other algorithm is the key's usage error.
    private static func isRSA(_ algorithm: EncryptionAlgorithm, key: ResolvedKey) throws(KMSError) -> Bool {
        guard algorithm != .symmetricDefault else { return false }
        guard key.spec.encryptionAlgorithms(usage: .encryptDecrypt).contains(algorithm) else {
            throw .invalidKeyUsage(
                "the encryption algorithm \(algorithm.rawValue) is not valid for a \(key.spec.rawValue) key")
        }
        return true
    }

    /// A random data key sealed under the key as Encrypt would; the plaintext only when asked for.
    public func generateDataKey(_ request: WorkerGenerateDataKeyRequest) throws(KMSError)
        -> WorkerGenerateDataKeyResponse
    {
        try Limits.check(value: Int(request.numberOfBytes), in: Limits.numberOfBytes, field: "numberOfBytes")
        let key = try self.resolve(request.key, field: "key")
        let material = try key.symmetric()
        // The data key, then the ciphertext's salt and nonce, from one read of the system's
        // generator: each read is a system call, about 1 us here.
        let length = Int(request.numberOfBytes)
        var random = randomBytes(length + SymmetricCiphertext.randomLength)
        defer { zeroize(&random) }
        var response = WorkerGenerateDataKeyResponse()
        // Read in place, so no copy of the data key outlives the zeroing.
        let sealed = random.withUnsafeBytes { bytes in
            Result { () throws(KMSError) in
                try SymmetricCiphertext.seal(
                    UnsafeRawBufferPointer(rebasing: bytes[..<length]), keyID: key.keyID, materialID: key.materialID,
                    material: material, encryptionContext: request.encryptionContext,
                    random: ArraySlice(bytes[length...]))
            }
        }
        response.ciphertextBlob = Data(try sealed.get())
        if request.includePlaintext {
            response.plaintext = random.withUnsafeBytes { Data($0[..<length]) }
        }
        return response
    }

    /// Random bytes from the system's generator, within `Limits.numberOfBytes`.
    public func generateRandom(_ request: WorkerGenerateRandomRequest) throws(KMSError) -> WorkerGenerateRandomResponse
    {
        try Limits.check(value: Int(request.numberOfBytes), in: Limits.numberOfBytes, field: "numberOfBytes")
        var response = WorkerGenerateRandomResponse()
        response.plaintext = Data(randomBytes(Int(request.numberOfBytes)))
        return response
    }
}
