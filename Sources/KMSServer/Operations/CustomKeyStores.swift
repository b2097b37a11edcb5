import Foundation
import KMSDomain
import KMSProto
import KMSStore
import KMSWorkerProto

/// CreateCustomKeyStore, DescribeCustomKeyStores, UpdateCustomKeyStore, DeleteCustomKeyStore,
/// ConnectCustomKeyStore and DisconnectCustomKeyStore. They are IAM permissions only, as at
/// AWS: no key policy is involved; an account root has them in its own account, anyone else
/// needs an identity policy allowing them (on "*" for Create and Describe, on the store's ARN
/// `arn:...:key-store/cks-...` for the others, decided before the store is looked up, so a
/// refused caller learns nothing of it). A store belongs to one account and region and is
/// invisible elsewhere (CustomKeyStoreNotFoundException). The state rules are
/// CustomKeyStoreRules.swift's; what connects a store is its type's `CustomKeyStoreBackend`.
extension KMSService {
    func createCustomKeyStore(_ request: KMSCreateCustomKeyStoreRequest, caller: Caller) async throws(KMSError)
        -> KMSCreateCustomKeyStoreResponse
    {
        try CustomKeyStoreValidation.name(request.customKeyStoreName, field: "CustomKeyStoreName")
        let type = try Self.storeType(request)
        try self.gate.authorizeKeyStore(caller, action: "CreateCustomKeyStore", storeARN: nil)
        let stores = try self.customKeyStoreStores()
        if type == .awsCloudHSM { return try await self.createCloudHSMKeyStore(request, caller: caller) }
        let settings = try Self.newProxySettings(request)
        var store = CustomKeyStoreRecord(
            id: .random(), account: caller.account, region: caller.region, name: request.customKeyStoreName,
            type: type, connectionState: .disconnected, xks: nil,
            creationDate: Date(timeIntervalSince1970: self.now().timeIntervalSince1970.rounded(.down)), version: 1)
        let arn = store.arn(partition: self.scope.partition)
        caller.trail.note(keyARN: arn)
        let (wrapped, rootKeyID) = try await self.wrapProxySecret(
            request.xksProxyAuthenticationCredential, storeARN: arn)
        store.xks = XksProxySettings(
            uriEndpoint: settings.endpoint, uriPath: settings.path, connectivity: .publicEndpoint,
            accessKeyID: request.xksProxyAuthenticationCredential.accessKeyID, wrappedSecret: wrapped)
        // As at AWS, the proxy must answer with these settings before the store exists.
        try await self.customKeyStoreBackends[type]?.validate(
            store, storeARN: arn, operation: "CreateCustomKeyStore", worker: self.worker)
        let audit = self.changeRecord(caller)
        let written = try await self.store { [store] in
            try await stores.insert(store, arn: arn, rootKeyID: rootKeyID, audit: audit)
        }
        try Self.check(written, store)
        var response = KMSCreateCustomKeyStoreResponse()
        response.customKeyStoreID = store.id.description
        return response
    }

    func describeCustomKeyStores(_ request: KMSDescribeCustomKeyStoresRequest, caller: Caller) async throws(KMSError)
        -> KMSDescribeCustomKeyStoresResponse
    {
        guard !(request.hasCustomKeyStoreID && request.hasCustomKeyStoreName) else {
            throw .validation("Specify CustomKeyStoreId or CustomKeyStoreName, not both.")
        }
        let limit = try Validation.limit(request.hasLimit ? request.limit : nil, range: 1...1000, default: 100)
        let marker = try Marker.decode(request.hasMarker ? request.marker : nil)
        let after = marker.flatMap(CustomKeyStoreID.init)
        if marker != nil, after == nil {
            throw KMSError(.invalidMarker, "The marker is not one this service issued.")
        }
        if request.hasCustomKeyStoreName {
            try CustomKeyStoreValidation.name(request.customKeyStoreName, field: "CustomKeyStoreName")
        }
        try self.gate.authorizeKeyStore(caller, action: "DescribeCustomKeyStores", storeARN: nil)
        let stores = try self.customKeyStoreStores()
        var response = KMSDescribeCustomKeyStoresResponse()
        if request.hasCustomKeyStoreID || request.hasCustomKeyStoreName {
            let found: CustomKeyStoreRecord
            if request.hasCustomKeyStoreID {
                found = try await self.customKeyStore(request.customKeyStoreID, caller: caller)
            } else {
                let name = request.customKeyStoreName
                let named = try await self.store {
                    try await stores.fetch(named: name, account: caller.account, region: caller.region)
                }
                guard let named else {
                    throw KMSError(.customKeyStoreNotFound, "No custom key store is named \(name.prefix(256)).")
                }
                found = named
            }
            response.customKeyStores = [KMSCustomKeyStoresListEntry(found)]
            response.truncated = false
            return response
        }
        let page = try await self.store {
            try await stores.list(account: caller.account, region: caller.region, after: after, limit: limit + 1)
        }
        response.customKeyStores = page.prefix(limit).map(KMSCustomKeyStoresListEntry.init)
        response.truncated = page.count > limit
        if response.truncated, let last = page.prefix(limit).last {
            response.nextMarker = Marker.encode(last.id.description)
        }
        return response
    }

    func updateCustomKeyStore(_ request: KMSUpdateCustomKeyStoreRequest, caller: Caller) async throws(KMSError)
        -> KMSUpdateCustomKeyStoreResponse
    {
        if request.hasNewCustomKeyStoreName {
            try CustomKeyStoreValidation.name(request.newCustomKeyStoreName, field: "NewCustomKeyStoreName")
        }
        if request.hasXksProxyUriEndpoint { try CustomKeyStoreValidation.uriEndpoint(request.xksProxyUriEndpoint) }
        if request.hasXksProxyUriPath { try CustomKeyStoreValidation.uriPath(request.xksProxyUriPath) }
        if request.hasXksProxyAuthenticationCredential {
            let credential = request.xksProxyAuthenticationCredential
            try CustomKeyStoreValidation.credential(
                accessKeyID: credential.accessKeyID, secret: credential.rawSecretAccessKey)
        }
        let stores = try self.customKeyStoreStores()
        let arn = try self.authorizeKeyStore(caller, "UpdateCustomKeyStore", request.customKeyStoreID)
        var stored = try await self.customKeyStore(request.customKeyStoreID, caller: caller)
        if stored.type == .awsCloudHSM {
            return try await self.updateCloudHSMKeyStore(request, stored: stored, caller: caller)
        }
        if request.hasKeyStorePassword || request.hasCloudHsmClusterID {
            throw .validation("KeyStorePassword and CloudHsmClusterId apply to AWS_CLOUDHSM key stores only.")
        }
        try Self.checkPublicEndpoint(
            connectivity: request.hasXksProxyConnectivity ? request.xksProxyConnectivity : nil,
            vpcFields: request.hasXksProxyVpcEndpointServiceName || request.hasXksProxyVpcEndpointServiceOwner)
        let wrapped: (secret: [UInt8], rootKeyID: UUID)? =
            request.hasXksProxyAuthenticationCredential
            ? try await self.wrapProxySecret(request.xksProxyAuthenticationCredential, storeARN: arn) : nil
        let rootKeyID = wrapped?.rootKeyID
        for _ in 0..<5 {
            guard var xks = stored.xks else { throw KMSError.internalFailure("an external key store has no proxy") }
            let changesEndpoint =
                (request.hasXksProxyUriEndpoint && request.xksProxyUriEndpoint != xks.uriEndpoint)
                || (request.hasXksProxyConnectivity
                    && request.xksProxyConnectivity.awsName != xks.connectivity.rawValue)
            try stored.checkUpdatable(changesEndpointOrConnectivity: changesEndpoint)
            var store = stored
            if request.hasNewCustomKeyStoreName { store.name = request.newCustomKeyStoreName }
            if request.hasXksProxyUriEndpoint { xks.uriEndpoint = request.xksProxyUriEndpoint }
            if request.hasXksProxyUriPath { xks.uriPath = request.xksProxyUriPath }
            if let wrapped {
                xks.accessKeyID = request.xksProxyAuthenticationCredential.accessKeyID
                xks.wrappedSecret = wrapped.secret
            }
            store.xks = xks
            // New proxy settings are checked with the proxy first, as at AWS.
            if xks != stored.xks {
                try await self.customKeyStoreBackends[store.type]?.validate(
                    store, storeARN: arn, operation: "UpdateCustomKeyStore", worker: self.worker)
            }
            let audit = self.changeRecord(caller)
            let written = try await self.store { [store] in
                try await stores.update(store, rootKeyID: rootKeyID, audit: audit)
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

    func deleteCustomKeyStore(_ request: KMSDeleteCustomKeyStoreRequest, caller: Caller) async throws(KMSError)
        -> KMSDeleteCustomKeyStoreResponse
    {
        let stores = try self.customKeyStoreStores()
        try self.authorizeKeyStore(caller, "DeleteCustomKeyStore", request.customKeyStoreID)
        for _ in 0..<5 {
            let store = try await self.customKeyStore(request.customKeyStoreID, caller: caller)
            try store.checkDeletable()
            let audit = self.changeRecord(caller)
            switch try await self.store({ try await stores.delete(store, audit: audit) }) {
            case .deleted:
                self.cache.invalidateCustomKeyStore(store.id)
                return KMSDeleteCustomKeyStoreResponse()
            case .hasKeys:
                throw KMSError(
                    .customKeyStoreHasCMKs,
                    "Custom key store \(store.id) still holds KMS keys: delete them first (ScheduleKeyDeletion, "
                        + "then wait for their deletion).")
            case .changed:
                continue
            }
        }
        throw KMSError(.conflict, "Custom key store is being changed concurrently; retry", retryable: true)
    }

    func connectCustomKeyStore(_ request: KMSConnectCustomKeyStoreRequest, caller: Caller) async throws(KMSError)
        -> KMSConnectCustomKeyStoreResponse
    {
        let stores = try self.customKeyStoreStores()
        let arn = try self.authorizeKeyStore(caller, "ConnectCustomKeyStore", request.customKeyStoreID)
        var store = try await self.customKeyStore(request.customKeyStoreID, caller: caller)
        guard try store.connection() == .connect else { return KMSConnectCustomKeyStoreResponse() }
        guard let backend = self.customKeyStoreBackends[store.type] else {
            throw KMSError(
                .unsupportedOperation,
                "This service cannot connect custom key stores of type \(store.type.rawValue) yet.")
        }
        // As at AWS, the answer is a success whether or not the connection works: a failure
        // shows as FAILED, with its ConnectionErrorCode, in DescribeCustomKeyStores.
        let failure = await backend.connect(store, storeARN: arn, worker: self.worker)
        store.connectionState = failure == nil ? .connected : .failed
        store.connectionError = failure
        let audit = self.changeRecord(caller)
        let written = try await self.store { [store] in try await stores.update(store, rootKeyID: nil, audit: audit) }
        self.cache.invalidateCustomKeyStore(store.id)
        if written != .written {
            // Another request changed the store meanwhile: a concurrent connect that got there
            // first is this one's success too.
            let now = try await self.customKeyStore(request.customKeyStoreID, caller: caller)
            guard try now.connection() == .alreadyUnderway else {
                throw KMSError(
                    .conflict, "Custom key store \(store.id) changed while it connected; retry", retryable: true)
            }
        }
        return KMSConnectCustomKeyStoreResponse()
    }

    func disconnectCustomKeyStore(_ request: KMSDisconnectCustomKeyStoreRequest, caller: Caller)
        async throws(KMSError) -> KMSDisconnectCustomKeyStoreResponse
    {
        let stores = try self.customKeyStoreStores()
        try self.authorizeKeyStore(caller, "DisconnectCustomKeyStore", request.customKeyStoreID)
        for _ in 0..<5 {
            var store = try await self.customKeyStore(request.customKeyStoreID, caller: caller)
            try store.checkDisconnectable()
            store.connectionState = .disconnected
            store.connectionError = nil
            let audit = self.changeRecord(caller)
            let written = try await self.store { [store] in
                try await stores.update(store, rootKeyID: nil, audit: audit)
            }
            if written == .written {
                // This kmsd's cached client is dropped before the answer; others' on the change notification.
                self.cache.invalidateCustomKeyStore(store.id)
                if store.type == .awsCloudHSM { await CloudHSMKeyStoreBackend.disconnect(store, worker: self.worker) }
                return KMSDisconnectCustomKeyStoreResponse()
            }
        }
        throw KMSError(.conflict, "Custom key store is being changed concurrently; retry", retryable: true)
    }
}
