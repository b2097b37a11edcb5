import Foundation
import KMSDomain
import KMSProto
import KMSStore
import KMSWorkerProto

/// AWS_CLOUDHSM custom key stores over a PKCS #11 token (README, "PKCS #11 tokens"): AWS's
/// CloudHsmClusterId names the token (`LABEL` or `MODULE/LABEL`, the module one of kms-cryptod's
/// `--pkcs11-module` names), KeyStorePassword is the token user's PIN, stored only wrapped by
/// kms-cryptod, bound to the store's id. TrustAnchorCertificate is accepted and not used: there is
/// no cluster certificate to check.
extension KMSService {
    func createCloudHSMKeyStore(_ request: KMSCreateCustomKeyStoreRequest, caller: Caller) async throws(KMSError)
        -> KMSCreateCustomKeyStoreResponse
    {
        if request.hasXksProxyUriEndpoint || request.hasXksProxyUriPath || request.hasXksProxyConnectivity
            || request.hasXksProxyAuthenticationCredential || request.hasXksProxyVpcEndpointServiceName
            || request.hasXksProxyVpcEndpointServiceOwner
        {
            throw .validation("The XksProxy members apply to EXTERNAL_KEY_STORE key stores only.")
        }
        guard request.hasCloudHsmClusterID, request.hasKeyStorePassword else {
            throw .validation("An AWS_CLOUDHSM key store needs CloudHsmClusterId and KeyStorePassword.")
        }
        let (module, label) = try CloudHSMTokenSettings.parse(clusterID: request.cloudHsmClusterID)
        try CloudHSMTokenSettings.checkPassword(request.keyStorePassword)
        let stores = try self.customKeyStoreStores()
        var store = CustomKeyStoreRecord(
            id: .random(), account: caller.account, region: caller.region, name: request.customKeyStoreName,
            type: .awsCloudHSM, connectionState: .disconnected, xks: nil,
            creationDate: Date(timeIntervalSince1970: self.now().timeIntervalSince1970.rounded(.down)), version: 1)
        let arn = store.arn(partition: self.scope.partition)
        caller.trail.note(keyARN: arn)
        let (wrapped, rootKeyID) = try await self.wrapTokenPIN(request.keyStorePassword, store: store.id)
        store.cloudHSM = CloudHSMTokenSettings(module: module, tokenLabel: label, wrappedPIN: wrapped)
        let audit = self.changeRecord(caller)
        let written = try await self.store { [store] in
            try await stores.insert(store, arn: arn, rootKeyID: rootKeyID, audit: audit)
        }
        try Self.check(written, store)
        var response = KMSCreateCustomKeyStoreResponse()
        response.customKeyStoreID = store.id.description
        return response
    }

    /// UpdateCustomKeyStore of an AWS_CLOUDHSM store: a new name any time; a new token or PIN only
    /// while DISCONNECTED, as at AWS.
    func updateCloudHSMKeyStore(
        _ request: KMSUpdateCustomKeyStoreRequest, stored initial: CustomKeyStoreRecord, caller: Caller
    ) async throws(KMSError) -> KMSUpdateCustomKeyStoreResponse {
        if request.hasXksProxyUriEndpoint || request.hasXksProxyUriPath || request.hasXksProxyConnectivity
            || request.hasXksProxyAuthenticationCredential || request.hasXksProxyVpcEndpointServiceName
            || request.hasXksProxyVpcEndpointServiceOwner
        {
            throw .validation("The XksProxy members apply to EXTERNAL_KEY_STORE key stores only.")
        }
        let token =
            try request.hasCloudHsmClusterID
            ? CloudHSMTokenSettings.parse(clusterID: request.cloudHsmClusterID) : nil
        if request.hasKeyStorePassword { try CloudHSMTokenSettings.checkPassword(request.keyStorePassword) }
        let stores = try self.customKeyStoreStores()
        let wrapped =
            request.hasKeyStorePassword
            ? try await self.wrapTokenPIN(request.keyStorePassword, store: initial.id) : nil
        var stored = initial
        for _ in 0..<5 {
            guard var settings = stored.cloudHSM else {
                throw KMSError.internalFailure("a CloudHSM key store has no token")
            }
            if token != nil || wrapped != nil, stored.connectionState != .disconnected {
                throw KMSError(
                    .customKeyStoreInvalidState,
                    "Custom key store \(stored.id) must be DISCONNECTED to change its CloudHsmClusterId or "
                        + "KeyStorePassword; it is \(stored.connectionState.rawValue).")
            }
            var store = stored
            if request.hasNewCustomKeyStoreName { store.name = request.newCustomKeyStoreName }
            if let token { (settings.module, settings.tokenLabel) = token }
            if let wrapped { settings.wrappedPIN = wrapped.pin }
            store.cloudHSM = settings
            let audit = self.changeRecord(caller)
            let written = try await self.store { [store] in
                try await stores.update(store, rootKeyID: wrapped?.rootKeyID, audit: audit)
            }
            if written != .changed {
                try Self.check(written, store)
                self.cache.invalidateCustomKeyStore(store.id)
                return KMSUpdateCustomKeyStoreResponse()
            }
            stored = try await self.customKeyStore(request.customKeyStoreID, caller: caller)
        }
        throw KMSError(.conflict, "Custom key store \(stored.id) is being changed concurrently; retry", retryable: true)
    }

    /// The PIN wrapped by kms-cryptod for the database, and the root key it is under.
    func wrapTokenPIN(_ pin: String, store: CustomKeyStoreID) async throws(KMSError) -> (pin: [UInt8], rootKeyID: UUID)
    {
        var wrap = WorkerWrapTokenPinRequest()
        wrap.customKeyStoreID = store.description
        wrap.pin = pin
        let wrapped = try await self.worker.call(WorkerMethod.wrapTokenPin, wrap)
        guard let rootKeyID = UUID(uuidString: wrapped.rootKeyID) else {
            throw KMSError.internalFailure("the crypto worker named an invalid root key")
        }
        return (Array(wrapped.wrappedPin), rootKeyID)
    }
}
