import Foundation
import KMSDomain
import KMSWorkerProto

/// AWS_CLOUDHSM stores: a PKCS #11 token that kms-cryptod logs in to (ConnectToken). The PIN
/// travels only wrapped; kms-cryptod unwraps it to log in and answers AWS's ConnectionErrorCode
/// when the token cannot be reached or refuses it.
public struct CloudHSMKeyStoreBackend: CustomKeyStoreBackend {
    /// The backend.
    public init() {}

    /// Logs kms-cryptod in to the store's token; AWS's ConnectionErrorCode when it cannot.
    public func connect(_ store: CustomKeyStoreRecord, storeARN: String, worker: any CryptoBackend) async
        -> CustomKeyStoreConnectionError?
    {
        guard let token = store.cloudHSM else { return .internalError }
        var request = WorkerConnectTokenRequest()
        request.token = WorkerTokenRef(store.id, token)
        guard let answer = try? await worker.call(WorkerMethod.connectToken, request) else { return .internalError }
        guard !answer.connected else { return nil }
        return CustomKeyStoreConnectionError(rawValue: answer.connectionErrorCode) ?? .internalError
    }

    /// Nothing to ask before the settings are kept: the token is first reached by
    /// ConnectCustomKeyStore, which reports a module, label or PIN that does not work as AWS's
    /// ConnectionErrorCode (the store FAILED), as AWS reports a cluster it cannot use.
    public func validate(
        _ store: CustomKeyStoreRecord, storeARN: String, operation: String, worker: any CryptoBackend
    ) async throws(KMSError) {}

    /// Logs kms-cryptod out of the store's token (DisconnectCustomKeyStore). Best effort: a
    /// disconnected store is refused by kmsd before any token call, whatever the worker still holds.
    static func disconnect(_ store: CustomKeyStoreRecord, worker: any CryptoBackend) async {
        var request = WorkerDisconnectTokenRequest()
        request.customKeyStoreID = store.id.description
        _ = try? await worker.call(WorkerMethod.disconnectToken, request)
    }
}

extension WorkerTokenRef {
    /// The token of store `id`, as kms-cryptod's token calls take it.
    init(_ id: CustomKeyStoreID, _ token: CloudHSMTokenSettings) {
        self.init()
        self.customKeyStoreID = id.description
        self.module = token.module
        self.tokenLabel = token.tokenLabel
        self.wrappedPin = Data(token.wrappedPIN)
    }
}
