import KMSDomain
import KMSProto

extension KMSService {
    /// CreateKey's checks of a key in a custom key store, in AWS's order: the origin and the
    /// store's members go together, the store exists in the caller's account and region, is of
    /// the origin's type and CONNECTED; an external key store's key is a symmetric encryption
    /// key with an XksKeyId, and so is an AWS_CLOUDHSM store's (a token key). Returns the store.
    func checkKeyInCustomKeyStore(
        _ request: KMSCreateKeyRequest, origin: Origin, spec: KeySpec, usage: KeyUsage, caller: Caller
    ) async throws(KMSError) -> CustomKeyStoreRecord {
        guard origin == .awsCloudHSM || origin == .externalKeyStore else {
            throw .validation(
                "CustomKeyStoreId and XksKeyId are valid only with Origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE.")
        }
        guard request.hasCustomKeyStoreID else {
            throw .validation("Origin \(origin.rawValue) requires a CustomKeyStoreId.")
        }
        if origin == .externalKeyStore {
            guard request.hasXksKeyID else { throw .validation("Origin EXTERNAL_KEY_STORE requires an XksKeyId.") }
            try CustomKeyStoreValidation.xksKeyID(request.xksKeyID)
        } else if request.hasXksKeyID {
            throw .validation("XksKeyId is valid only with Origin EXTERNAL_KEY_STORE.")
        }
        guard spec == .symmetricDefault, usage == .encryptDecrypt else {
            throw .validation(
                "Keys in a custom key store are symmetric encryption keys (KeySpec SYMMETRIC_DEFAULT, KeyUsage "
                    + "ENCRYPT_DECRYPT).")
        }
        if request.hasMultiRegion, request.multiRegion {
            throw KMSError(.unsupportedOperation, "Multi-Region keys cannot be created in a custom key store.")
        }
        let store = try await self.customKeyStore(request.customKeyStoreID, caller: caller)
        let expected: CustomKeyStoreType = origin == .externalKeyStore ? .externalKeyStore : .awsCloudHSM
        guard store.type == expected else {
            throw KMSError(
                .unsupportedOperation,
                "Custom key store \(store.id) is of type \(store.type.rawValue); Origin \(origin.rawValue) needs one "
                    + "of type \(expected.rawValue).")
        }
        try store.checkKeyCreation()
        return store
    }

    /// What backs a new key of `store` must serve it (the XKS proxy's external key, for an
    /// EXTERNAL_KEY_STORE): asked once the caller is authorized, so that no one else learns what
    /// the proxy holds.
    func checkNewKeyBacking(_ store: CustomKeyStoreRecord, xksKeyID: String?, caller: Caller) async throws(KMSError) {
        guard let backend = self.customKeyStoreBackends[store.type] else {
            throw KMSError(
                .unsupportedOperation, "Custom key stores of type \(store.type.rawValue) are not served by this kmsd.")
        }
        // One external key backs one KMS key of a store, as at AWS. This query gives the clear
        // error before the proxy is asked; the unique index behind the insert (ExternalKeyInUse)
        // settles two concurrent CreateKeys with one XksKeyId.
        if let xksKeyID {
            let stores = try self.customKeyStoreStores()
            if try await self.store({ try await stores.hasKey(in: store.id, xksKeyID: xksKeyID) }) {
                throw Self.externalKeyInUse(xksKeyID, store: store.id)
            }
        }
        let arn = "arn:\(self.scope.partition):kms:\(store.region):\(store.account):key-store/\(store.id)"
        try await backend.checkNewKey(store, storeARN: arn, xksKeyID: xksKeyID, caller: caller, worker: self.worker)
    }

    /// AWS's XksKeyAlreadyInUseException for the external key `xksKeyID` of `store`.
    static func externalKeyInUse(_ xksKeyID: String, store: CustomKeyStoreID) -> KMSError {
        KMSError(
            .xksKeyAlreadyInUse,
            "The external key \(xksKeyID) is already associated with a KMS key in custom key store \(store).")
    }
}
