import Foundation
import KMSCrypto
import KMSDomain
import KMSStore
import KMSWorkerProto

/// Keys in AWS_CLOUDHSM custom key stores: each material version is a non-extractable AES-256
/// key inside the store's PKCS #11 token, made there by kms-cryptod (CreateTokenKey), and every
/// Encrypt, Decrypt and data key is the token's AES-GCM (TokenCiphertext, blob version 2). kmsd
/// keeps only the material's id; the store's token settings (module, label, wrapped PIN; cached
/// with the store's row, TokenStoreCache) travel with each call, so any kms-cryptod of the
/// deployment can serve it.
extension KMSService {
    /// The token of `record`'s store, as kms-cryptod's token calls take it; KMSInvalidStateException
    /// unless the store is CONNECTED (the key is Unavailable), as at AWS.
    func tokenRef(for record: KeyRecord) async throws(KMSError) -> WorkerTokenRef {
        guard let id = record.customKeyStoreID else {
            throw KMSError(.invalidState, "\(record.arn) is not in an AWS_CLOUDHSM key store.")
        }
        let cache = self.cache.tokenStores
        if let store = cache.store(id), let token = store.cloudHSM { return WorkerTokenRef(store.id, token) }
        let generation = cache.generation
        let stores = try self.customKeyStoreStores()
        guard let store = try await self.store({ try await stores.fetch(id) }), store.connectionState == .connected,
            let token = store.cloudHSM
        else {
            throw KMSError(
                .invalidState, "\(record.arn) is unavailable: its custom key store \(id) is not CONNECTED.")
        }
        cache.keep(store, loadedAt: generation)
        return WorkerTokenRef(store.id, token)
    }

    /// A new material version of a key in `store`: a token key, made in the token now.
    func createTokenMaterial(keyID: KeyID, keyARN: String, store: CustomKeyStoreRecord) async throws(KMSError)
        -> StoredMaterial
    {
        guard store.connectionState == .connected, let token = store.cloudHSM else {
            throw KMSError(
                .customKeyStoreInvalidState, "Custom key store \(store.id) is not CONNECTED; connect it first.")
        }
        var call = WorkerCreateTokenKeyRequest()
        call.token = WorkerTokenRef(store.id, token)
        call.keyID = keyID.description
        call.keyArn = keyARN
        let made = try await self.worker.call(WorkerMethod.createTokenKey, call)
        return .tokenKey(try MaterialID(worker: made.materialID))
    }

    /// Encrypt and ReEncrypt's destination under a token key: a TokenCiphertext blob.
    func tokenEncrypt<Checked>(_ plaintext: Data, key: KeyInUse<Checked>, context: [String: String])
        async throws(KMSError) -> Data
    {
        var call = WorkerTokenEncryptRequest()
        call.token = try await self.tokenRef(for: key.record)
        call.key = key.workerKey
        call.plaintext = plaintext
        call.encryptionContext = context
        return try await self.worker.call(WorkerMethod.tokenEncrypt, call).ciphertextBlob
    }

    /// Decrypt and ReEncrypt's source under a token key. The blob must be a token blob: a key's
    /// material kind and its ciphertexts' format go together.
    func tokenDecrypt<Checked>(_ blob: Data, key: KeyInUse<Checked>, context: [String: String])
        async throws(KMSError) -> Data
    {
        guard TokenCiphertext.claims([UInt8](blob)) else {
            throw KMSError.invalidCiphertext("The ciphertext is not one of \(key.record.arn)'s token key.")
        }
        var call = WorkerTokenDecryptRequest()
        call.token = try await self.tokenRef(for: key.record)
        call.key = key.workerKey
        call.ciphertextBlob = blob
        call.encryptionContext = context
        return try await self.worker.call(WorkerMethod.tokenDecrypt, call).plaintext
    }

    /// GenerateDataKey(WithoutPlaintext) under a token key: the data key's blob and, when asked,
    /// its plaintext (empty otherwise).
    func tokenDataKey<Checked>(
        _ key: KeyInUse<Checked>, numberOfBytes: Int, context: [String: String], includePlaintext: Bool
    ) async throws(KMSError) -> (Data, Data) {
        var call = WorkerTokenGenerateDataKeyRequest()
        call.token = try await self.tokenRef(for: key.record)
        call.key = key.workerKey
        call.numberOfBytes = UInt32(numberOfBytes)
        call.encryptionContext = context
        call.includePlaintext = includePlaintext
        let answer = try await self.worker.call(WorkerMethod.tokenGenerateDataKey, call)
        return (answer.ciphertextBlob, answer.plaintext)
    }

    /// GenerateRandom with a CustomKeyStoreId: bytes from the token of the caller's AWS_CLOUDHSM
    /// store. As at AWS, an external key store's id is UnsupportedOperationException, and a store
    /// that is not CONNECTED CustomKeyStoreInvalidStateException.
    func tokenRandom(_ count: Int, storeID: String, caller: Caller) async throws(KMSError) -> Data {
        let store = try await self.customKeyStore(storeID, caller: caller)
        guard store.type == .awsCloudHSM, let token = store.cloudHSM else {
            throw KMSError(
                .unsupportedOperation,
                "GenerateRandom takes the id of an AWS_CLOUDHSM key store; \(store.id) is of type "
                    + "\(store.type.rawValue).")
        }
        guard store.connectionState == .connected else {
            throw KMSError(
                .customKeyStoreInvalidState,
                "Custom key store \(store.id) is \(store.connectionState.rawValue): GenerateRandom needs it CONNECTED.")
        }
        var call = WorkerTokenGenerateRandomRequest()
        call.token = WorkerTokenRef(store.id, token)
        call.numberOfBytes = UInt32(count)
        return try await self.worker.call(WorkerMethod.tokenGenerateRandom, call).plaintext
    }

    /// Destroys the token key of a key that was not stored after all (best effort).
    func destroyTokenKey(_ material: StoredMaterial, of record: KeyRecord, in store: CustomKeyStoreRecord) async {
        guard let stores = try? self.customKeyStoreStores() else { return }
        await TokenKeyDestroyer(worker: self.worker, stores: stores, logger: self.logger).destroy([
            DeletedTokenKey(
                keyID: record.keyID, arn: record.arn, customKeyStoreID: store.id, materialID: material.materialID)
        ])
    }
}
