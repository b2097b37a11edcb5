import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSProto

extension CryptoWorker {
    public func describe(_ request: WorkerDescribeRequest) -> WorkerDescribeResponse {
        var response = WorkerDescribeResponse()
        response.rootKeyIds = self.keyring.keys.reversed().map(\.id.description)
        response.cachedMaterials = UInt32(clamping: self.cache.count)
        return response
    }

    public func generateKeyMaterial(_ request: WorkerGenerateKeyMaterialRequest) throws(KMSError) -> WorkerGenerateKeyMaterialResponse {
        _ = try KeyIdentifier(string: request.keyID)
        guard !request.keyArn.isEmpty, request.keyArn.utf8.count <= 2048 else {
            throw .validation("key_arn must be 1..2048 characters")
        }
        guard request.kind == .symmetric256 else {
            throw .unsupportedOperation("kms-cryptod cannot generate key material of kind \(request.kind)")
        }
        let material = SymmetricKey(size: .bits256)
        let materialID = MaterialID.random()
        let root = self.keyring.newest
        var response = WorkerGenerateKeyMaterialResponse()
        response.material.materialID = Data(materialID.bytes)
        response.material.wrapped = Data(MaterialWrapping.wrap(
            material, kind: .symmetric256, keyARN: request.keyArn, materialID: materialID, under: root
        ))
        response.rootKeyID = root.id.description
        return response
    }

    /// Re-wraps one material blob under the newest root key (root key rotation).
    public func rewrapKeyMaterial(_ request: WorkerRewrapKeyMaterialRequest) throws(KMSError) -> WorkerRewrapKeyMaterialResponse {
        let ref = request.key
        let wrapped = [UInt8](ref.material.wrapped)
        let materialID = try MaterialID(bytes: ref.material.materialID)
        let (material, header) = try MaterialWrapping.unwrap(
            wrapped, keyARN: ref.keyArn, materialID: materialID, keyring: self.keyring
        )
        let newest = self.keyring.newest
        var response = WorkerRewrapKeyMaterialResponse()
        response.rootKeyID = newest.id.description
        if header.rootKeyID == newest.id {
            response.wrapped = ref.material.wrapped
            response.changed = false
        } else {
            response.wrapped = Data(MaterialWrapping.wrap(
                material, kind: header.kind, keyARN: ref.keyArn, materialID: materialID, under: newest
            ))
            response.changed = true
        }
        return response
    }

    public func encrypt(_ request: WorkerEncryptRequest) throws(KMSError) -> WorkerEncryptResponse {
        try Limits.check(request.plaintext.count, in: Limits.plaintextBytes, field: "plaintext")
        let key = try self.resolve(request.key, field: "key")
        var response = WorkerEncryptResponse()
        response.ciphertextBlob = Data(try SymmetricCiphertext.seal(
            request.plaintext, keyID: key.keyID, materialID: key.materialID,
            material: key.material, encryptionContext: request.encryptionContext
        ))
        return response
    }

    public func decrypt(_ request: WorkerDecryptRequest) throws(KMSError) -> WorkerDecryptResponse {
        let blob = [UInt8](request.ciphertextBlob)
        try Limits.check(blob.count, in: Limits.ciphertextBlobBytes, field: "ciphertextBlob")
        let key = try self.resolve(request.key, field: "key")
        var response = WorkerDecryptResponse()
        response.plaintext = Data(try SymmetricCiphertext.open(
            blob, keyID: key.keyID, materialID: key.materialID,
            material: key.material, encryptionContext: request.encryptionContext
        ))
        return response
    }

    /// Decrypts under the source key and encrypts under the destination key; the plaintext
    /// never leaves this process.
    public func reEncrypt(_ request: WorkerReEncryptRequest) throws(KMSError) -> WorkerReEncryptResponse {
        let blob = [UInt8](request.ciphertextBlob)
        try Limits.check(blob.count, in: Limits.ciphertextBlobBytes, field: "ciphertextBlob")
        let source = try self.resolve(request.sourceKey, field: "source_key")
        let destination = try self.resolve(request.destinationKey, field: "destination_key")
        var plaintext = try SymmetricCiphertext.open(
            blob, keyID: source.keyID, materialID: source.materialID,
            material: source.material, encryptionContext: request.sourceEncryptionContext
        )
        defer { zeroize(&plaintext) }
        var response = WorkerReEncryptResponse()
        response.ciphertextBlob = Data(try SymmetricCiphertext.seal(
            plaintext, keyID: destination.keyID, materialID: destination.materialID,
            material: destination.material, encryptionContext: request.destinationEncryptionContext
        ))
        return response
    }

    public func generateDataKey(_ request: WorkerGenerateDataKeyRequest) throws(KMSError) -> WorkerGenerateDataKeyResponse {
        try Limits.check(value: Int(request.numberOfBytes), in: Limits.numberOfBytes, field: "numberOfBytes")
        let key = try self.resolve(request.key, field: "key")
        var dataKey = randomBytes(Int(request.numberOfBytes))
        defer { zeroize(&dataKey) }
        var response = WorkerGenerateDataKeyResponse()
        response.ciphertextBlob = Data(try SymmetricCiphertext.seal(
            dataKey, keyID: key.keyID, materialID: key.materialID,
            material: key.material, encryptionContext: request.encryptionContext
        ))
        if request.includePlaintext {
            response.plaintext = Data(dataKey)
        }
        return response
    }

    public func generateRandom(_ request: WorkerGenerateRandomRequest) throws(KMSError) -> WorkerGenerateRandomResponse {
        try Limits.check(value: Int(request.numberOfBytes), in: Limits.numberOfBytes, field: "numberOfBytes")
        var response = WorkerGenerateRandomResponse()
        response.plaintext = Data(randomBytes(Int(request.numberOfBytes)))
        return response
    }
}
