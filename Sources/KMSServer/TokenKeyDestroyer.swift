import Foundation
import KMSCrypto
import KMSDomain
import KMSStore
import KMSWorkerProto
import Logging

/// Destroys token keys no row names any more (their key was deleted, or never stored), in the
/// token of their AWS_CLOUDHSM store. Best effort, as AWS's: when the store is not CONNECTED or
/// the token fails, the token key stays in the token and is logged, with its label, as left there
/// for the token's administrator to remove; nothing is retried.
public struct TokenKeyDestroyer: Sendable {
    let worker: any CryptoBackend
    let stores: any CustomKeyStoring
    let logger: Logger

    /// A destroyer that reads stores from `stores` and has `worker` do the token calls.
    public init(worker: any CryptoBackend, stores: any CustomKeyStoring, logger: Logger) {
        self.worker = worker
        self.stores = stores
        self.logger = logger
    }

    /// Destroys each of `keys`, one store read per store.
    public func destroy(_ keys: [DeletedTokenKey]) async {
        var stores: [CustomKeyStoreID: CustomKeyStoreRecord?] = [:]
        for key in keys {
            if stores[key.customKeyStoreID] == nil {
                stores[key.customKeyStoreID] = .some(
                    try? await backgroundCall { [id = key.customKeyStoreID] in try await self.stores.fetch(id) })
            }
            guard let store = stores[key.customKeyStoreID] ?? nil, let token = store.cloudHSM else {
                Self.logLeft(key, reason: "its custom key store is gone", self.logger)
                continue
            }
            guard store.connectionState == .connected else {
                Self.logLeft(key, reason: "its custom key store is not CONNECTED", self.logger)
                continue
            }
            var call = WorkerDestroyTokenKeyRequest()
            call.token = WorkerTokenRef(store.id, token)
            call.key.keyID = key.keyID.description
            call.key.keyArn = key.arn
            call.key.material.materialID = Data(key.materialID.bytes)
            do {
                _ = try await self.worker.call(WorkerMethod.destroyTokenKey, call)
                self.logger.info(
                    "destroyed the token key of a deleted key",
                    metadata: ["key_arn": "\(key.arn)", "custom_key_store_id": "\(key.customKeyStoreID)"])
            } catch {
                Self.logLeft(key, reason: "the token refused: \(error.code.rawValue)", self.logger)
            }
        }
    }

    static func logLeft(_ key: DeletedTokenKey, reason: String, _ logger: Logger) {
        logger.warning(
            "token key left in its token",
            metadata: [
                "key_arn": "\(key.arn)", "custom_key_store_id": "\(key.customKeyStoreID)",
                "token_key_label": "\(TokenCiphertext.tokenKeyLabel(keyID: key.keyID, materialID: key.materialID))",
                "reason": "\(reason)",
            ])
    }
}
