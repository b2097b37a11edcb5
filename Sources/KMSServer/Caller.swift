import KMSDomain
import KMSRPC

/// Who is calling, in which account and region. Until authentication lands, every connection
/// acts as the configured account's root; `RequestGate` is the one seam where authentication
/// and authorization plug in.
public struct Caller: Sendable, Hashable {
    public var account: String
    public var region: String
    public var principalARN: String

    public init(account: String, region: String, principalARN: String) {
        self.account = account
        self.region = region
        self.principalARN = principalARN
    }
}

/// Decides who a connection is and whether it may do what it asks.
public protocol RequestGate: Sendable {
    func caller(for connection: RPCConnectionInfo) throws(KMSError) -> Caller
    /// `key` is nil for operations on no key (CreateKey, ListKeys, GenerateRandom, ...).
    func authorize(_ caller: Caller, action: String, key: KeyRecord?) throws(KMSError)
}

/// Every connection is the account root of the default account: the behaviour before
/// authentication exists, and of an explicitly insecure development setup.
public struct AccountRootGate: RequestGate {
    let scope: ServiceScope

    public init(scope: ServiceScope) {
        self.scope = scope
    }

    public func caller(for connection: RPCConnectionInfo) throws(KMSError) -> Caller {
        Caller(
            account: self.scope.defaultAccount, region: self.scope.defaultRegion,
            principalARN: "arn:\(self.scope.partition):iam::\(self.scope.defaultAccount):root"
        )
    }

    public func authorize(_ caller: Caller, action: String, key: KeyRecord?) throws(KMSError) {
        if let key, key.account != caller.account {
            throw KMSError(.accessDenied, "\(caller.principalARN) is not authorized to perform kms:\(action) on \(key.arn)")
        }
    }
}
