import KMSDomain

/// What backs custom key stores of one type: an XKS proxy for EXTERNAL_KEY_STORE, a PKCS#11
/// token for AWS_CLOUDHSM. The store operations are the same for every type; what differs is
/// how a store connects (and, for keys in it, how their cryptography is done).
public protocol CustomKeyStoreBackend: Sendable {
    /// Tries `store`'s connection within the request's deadline: nil when it works, else AWS's
    /// ConnectionErrorCode for why not. Never throws: a failure is a state (FAILED), not an answer.
    /// `worker` derives whatever signing key the connection needs; secrets never leave it.
    func connect(_ store: CustomKeyStoreRecord, storeARN: String, worker: any CryptoBackend) async
        -> CustomKeyStoreConnectionError?

    /// Checks new settings of `store` before CreateCustomKeyStore or UpdateCustomKeyStore keeps
    /// them, as AWS does: throws AWS's exception when what backs the store cannot be used with them.
    /// `operation` is the request's (CreateCustomKeyStore or UpdateCustomKeyStore).
    func validate(_ store: CustomKeyStoreRecord, storeARN: String, operation: String, worker: any CryptoBackend)
        async throws(KMSError)

    /// CreateKey's check of what backs a new key of `store` (an XKS proxy's external key named
    /// `xksKeyID`): throws AWS's exception when it cannot serve the key. `caller` names the
    /// request (principal ARN, request id) to the proxy.
    func checkNewKey(
        _ store: CustomKeyStoreRecord, storeARN: String, xksKeyID: String?, caller: Caller, worker: any CryptoBackend
    ) async throws(KMSError)
}

extension CustomKeyStoreBackend {
    /// Nothing to check by default.
    public func checkNewKey(
        _ store: CustomKeyStoreRecord, storeARN: String, xksKeyID: String?, caller: Caller, worker: any CryptoBackend
    ) async throws(KMSError) {}
}

/// The backends kmsd serves, by store type; a type without one is stored but answers
/// UnsupportedOperationException where a backend is needed (ConnectCustomKeyStore).
public struct CustomKeyStoreBackends: Sendable {
    var backends: [CustomKeyStoreType: any CustomKeyStoreBackend]

    /// Backends by type (none by default).
    public init(_ backends: [CustomKeyStoreType: any CustomKeyStoreBackend] = [:]) {
        self.backends = backends
    }

    /// The backend of `type`, if served.
    public subscript(type: CustomKeyStoreType) -> (any CustomKeyStoreBackend)? { self.backends[type] }
}
