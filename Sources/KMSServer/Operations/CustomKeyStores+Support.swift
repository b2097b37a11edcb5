import Foundation
import KMSDomain
import KMSProto
import KMSStore
import KMSWorkerProto
import SwiftProtobuf

extension KMSService {
    /// The store port, or UnsupportedOperationException for stores that serve no custom key store.
    func customKeyStoreStores() throws(KMSError) -> any CustomKeyStoring {
        guard let stores = self.stores.customKeyStores else {
            throw KMSError(.unsupportedOperation, "Custom key stores are not supported by this key store.")
        }
        return stores
    }

    /// Authorizes `action` on the store the request names, as an ARN in the caller's account and
    /// region (a store of any other is not theirs to find), noted in the audit record; returns the ARN.
    @discardableResult
    func authorizeKeyStore(_ caller: Caller, _ action: String, _ id: String) throws(KMSError) -> String {
        guard (1...64).contains(id.utf8.count) else { throw .validation("CustomKeyStoreId must be 1..64 characters.") }
        let named = CustomKeyStoreID(id)?.description ?? id
        let arn = "arn:\(self.scope.partition):kms:\(caller.region):\(caller.account):key-store/\(named)"
        caller.trail.note(keyARN: arn)
        try self.gate.authorizeKeyStore(caller, action: action, storeARN: arn)
        return arn
    }

    /// The caller's store with this id: one of another account or region is not found, as at AWS.
    func customKeyStore(_ text: String, caller: Caller) async throws(KMSError) -> CustomKeyStoreRecord {
        let stores = try self.customKeyStoreStores()
        guard (1...64).contains(text.utf8.count) else {
            throw .validation("CustomKeyStoreId must be 1..64 characters.")
        }
        let notFound = KMSError(.customKeyStoreNotFound, "Custom key store \(text) is not found.")
        guard let id = CustomKeyStoreID(text) else { throw notFound }
        let found = try await self.store { try await stores.fetch(id) }
        guard let found, found.account == caller.account, found.region == caller.region else { throw notFound }
        return found
    }

    /// The request's type: AWS_CLOUDHSM when absent, as at AWS.
    static func storeType(_ request: KMSCreateCustomKeyStoreRequest) throws(KMSError) -> CustomKeyStoreType {
        guard request.hasCustomKeyStoreType else { return .awsCloudHSM }
        guard let type = CustomKeyStoreType(rawValue: request.customKeyStoreType.awsName) else {
            throw .validation("CustomKeyStoreType must be AWS_CLOUDHSM or EXTERNAL_KEY_STORE.")
        }
        return type
    }

    /// An external key store's proxy settings, checked: each required member present and well
    /// formed, PUBLIC_ENDPOINT connectivity, none of the AWS_CLOUDHSM members.
    static func newProxySettings(_ request: KMSCreateCustomKeyStoreRequest) throws(KMSError)
        -> (endpoint: String, path: String)
    {
        if request.hasCloudHsmClusterID || request.hasTrustAnchorCertificate || request.hasKeyStorePassword {
            throw .validation(
                "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword apply to AWS_CLOUDHSM key stores only.")
        }
        guard request.hasXksProxyConnectivity else {
            throw .validation("XksProxyConnectivity is required for an EXTERNAL_KEY_STORE.")
        }
        try Self.checkPublicEndpoint(
            connectivity: request.xksProxyConnectivity,
            vpcFields: request.hasXksProxyVpcEndpointServiceName || request.hasXksProxyVpcEndpointServiceOwner)
        guard request.hasXksProxyUriEndpoint, request.hasXksProxyUriPath, request.hasXksProxyAuthenticationCredential
        else {
            throw .validation(
                "XksProxyUriEndpoint, XksProxyUriPath and XksProxyAuthenticationCredential are required for an "
                    + "EXTERNAL_KEY_STORE.")
        }
        try CustomKeyStoreValidation.uriEndpoint(request.xksProxyUriEndpoint)
        try CustomKeyStoreValidation.uriPath(request.xksProxyUriPath)
        let credential = request.xksProxyAuthenticationCredential
        try CustomKeyStoreValidation.credential(
            accessKeyID: credential.accessKeyID, secret: credential.rawSecretAccessKey)
        return (request.xksProxyUriEndpoint, request.xksProxyUriPath)
    }

    /// Only PUBLIC_ENDPOINT connectivity is served: there is no VPC here.
    static func checkPublicEndpoint(connectivity: KMSXksProxyConnectivity?, vpcFields: Bool) throws(KMSError) {
        if let connectivity, connectivity.awsName != XksProxyConnectivity.publicEndpoint.rawValue {
            guard connectivity.awsName == XksProxyConnectivity.vpcEndpointService.rawValue else {
                throw .validation("XksProxyConnectivity must be PUBLIC_ENDPOINT or VPC_ENDPOINT_SERVICE.")
            }
            throw KMSError(
                .unsupportedOperation,
                "XksProxyConnectivity VPC_ENDPOINT_SERVICE is not supported: this service has no VPC; use "
                    + "PUBLIC_ENDPOINT with an HTTPS proxy it can reach.")
        }
        if vpcFields {
            throw .validation(
                "XksProxyVpcEndpointServiceName and XksProxyVpcEndpointServiceOwner apply to VPC_ENDPOINT_SERVICE "
                    + "connectivity only.")
        }
    }

    /// The proxy's secret wrapped by kms-cryptod under the active root key, bound to the
    /// store's ARN and the access key id (as principals' access keys are bound to theirs, so
    /// neither kind of blob passes for the other). kmsd never keeps the plaintext.
    func wrapProxySecret(_ credential: KMSXksProxyAuthenticationCredential, storeARN: String) async throws(KMSError)
        -> (secret: [UInt8], rootKeyID: UUID)
    {
        var wrap = WorkerCreateAccessKeySecretRequest()
        wrap.accessKeyID = credential.accessKeyID
        wrap.principalArn = storeARN
        wrap.secretAccessKey = credential.rawSecretAccessKey
        let wrapped = try await self.worker.call(WorkerMethod.createAccessKeySecret, wrap)
        guard let rootKeyID = UUID(uuidString: wrapped.rootKeyID) else {
            throw KMSError.internalFailure("the crypto worker named an invalid root key")
        }
        return (Array(wrapped.wrappedSecret), rootKeyID)
    }

    /// AWS's exception for a refused insert or update.
    static func check(_ written: CustomKeyStoreWrite, _ store: CustomKeyStoreRecord) throws(KMSError) {
        switch written {
        case .written: return
        case .nameInUse:
            throw KMSError(
                .customKeyStoreNameInUse, "A custom key store named \(store.name) already exists in this account.")
        case .uriInUse:
            throw KMSError(
                .xksProxyUriInUse,
                "Another external key store of this account and region uses the same XksProxyUriEndpoint and "
                    + "XksProxyUriPath.")
        case .tokenInUse:
            throw KMSError(
                .cloudHsmClusterInUse,
                "Another AWS_CLOUDHSM key store uses the PKCS #11 token \(store.cloudHSM?.clusterID ?? ""): one token "
                    + "serves one key store.")
        case .changed:
            throw KMSError(
                .conflict, "Custom key store \(store.id) is being changed concurrently; retry", retryable: true)
        }
    }
}

extension KMSCustomKeyStoresListEntry {
    /// What DescribeCustomKeyStores shows of a store: never its proxy's secret.
    init(_ store: CustomKeyStoreRecord) {
        self.init()
        self.customKeyStoreID = store.id.description
        self.customKeyStoreName = store.name
        self.connectionState = KMSConnectionState(awsName: store.connectionState.rawValue) ?? .unspecified
        if let error = store.connectionError {
            self.connectionErrorCode = KMSConnectionErrorCode(awsName: error.rawValue) ?? .unspecified
        }
        self.creationDate = Google_Protobuf_Timestamp(date: store.creationDate)
        self.customKeyStoreType = KMSCustomKeyStoreType(awsName: store.type.rawValue) ?? .unspecified
        if let xks = store.xks {
            var configuration = KMSXksProxyConfiguration()
            configuration.connectivity = KMSXksProxyConnectivity(awsName: xks.connectivity.rawValue) ?? .unspecified
            configuration.accessKeyID = xks.accessKeyID
            configuration.uriEndpoint = xks.uriEndpoint
            configuration.uriPath = xks.uriPath
            self.xksProxyConfiguration = configuration
        }
        if let token = store.cloudHSM { self.cloudHsmClusterID = token.clusterID }
    }
}
