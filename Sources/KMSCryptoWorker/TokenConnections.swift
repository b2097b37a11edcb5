import KMSCrypto
import KMSDomain
import KMSPKCS11
import KMSWorkerProto
import Synchronization

/// The PKCS #11 modules kms-cryptod's operator allows (`--pkcs11-module NAME=PATH`), by name.
/// A request names a module, never a path: loading a library is running its code in the one
/// process that holds the root keys, so which libraries may be loaded is configuration.
public struct PKCS11ModuleAllowList: Sendable, Equatable {
    /// Module paths by name.
    public var paths: [String: String]

    /// `paths`: absolute paths by name.
    public init(_ paths: [String: String] = [:]) { self.paths = paths }

    /// The path of `name`; an empty name means the only module when exactly one is configured.
    func path(of name: String) throws(KMSError) -> String {
        if name.isEmpty, self.paths.count == 1, let only = self.paths.values.first { return only }
        guard let path = self.paths[name] else {
            let known = self.paths.keys.sorted().joined(separator: ", ")
            throw KMSError(
                .cloudHsmClusterInvalidConfiguration,
                name.isEmpty
                    ? "no PKCS #11 module is named, and kms-cryptod has \(self.paths.count) (--pkcs11-module): "
                        + "[\(known)]"
                    : "kms-cryptod has no PKCS #11 module named \(name) (--pkcs11-module): [\(known)]")
        }
        return path
    }
}

/// This worker's logged-in token connections, one per custom key store. A request carries the
/// store's module name, token label and wrapped PIN; the connection made from them is kept until
/// the store's reference changes (a new label, module or PIN), the connection is lost, or kmsd
/// disconnects the store. No PIN is kept: a lost connection is made again from the next request's.
final class TokenConnections: Sendable {
    struct Entry: Sendable {
        let module: String
        let modulePath: String
        let label: String
        let wrappedPIN: [UInt8]
        let token: PKCS11Token
    }

    let modules: PKCS11ModuleAllowList
    let sessionsPerToken: Int
    private let entries = Mutex<[String: Entry]>([:])
    /// Connecting is slow on a networked HSM and must not race itself for one store (two logins,
    /// one connection kept): connects are serialized; calls on a connected token never wait here.
    private let connecting = Mutex<Void>(())
    /// Logins the token refused, by store: the same wrapped PIN is not tried again on a call's
    /// behalf for `loginRetryDelay` (an HSM locks its user out after a few wrong PINs, and every
    /// call would otherwise try one). ConnectToken always tries.
    private let refusedLogins = Mutex<[String: RefusedLogin]>([:])
    let loginRetryDelay: Duration

    struct RefusedLogin {
        let wrappedPIN: [UInt8]
        let until: ContinuousClock.Instant
        let error: KMSError
    }

    init(modules: PKCS11ModuleAllowList, sessionsPerToken: Int, loginRetryDelay: Duration = .seconds(30)) {
        self.modules = modules
        self.sessionsPerToken = sessionsPerToken
        self.loginRetryDelay = loginRetryDelay
    }

    /// The store's connection, made when there is none or the request names another token or PIN.
    func token(for ref: WorkerTokenRef, keyring: @autoclosure () -> RootKeyring) throws(KMSError) -> PKCS11Token {
        try Self.check(ref)
        let wrapped = [UInt8](ref.wrappedPin)
        if let entry = self.entries.withLock({ $0[ref.customKeyStoreID] }), entry.matches(ref, wrapped),
            entry.token.isUsable
        {
            return entry.token
        }
        let now = ContinuousClock.now
        if let refused = self.refusedLogins.withLock({ $0[ref.customKeyStoreID] }), refused.wrappedPIN == wrapped,
            refused.until > now
        {
            throw refused.error
        }
        return try self.connect(ref, wrapped: wrapped, keyring: keyring(), fresh: false).mapError(\.error).get()
    }

    /// Logs in afresh: any connection of the store is closed first, so a wrong PIN is found now.
    /// A failure says which PKCS #11 failure caused it, for AWS's ConnectionErrorCode.
    func reconnect(_ ref: WorkerTokenRef, keyring: RootKeyring) throws(KMSError)
        -> Result<PKCS11Token, TokenConnectFailure>
    {
        try Self.check(ref)
        return self.connect(ref, wrapped: [UInt8](ref.wrappedPin), keyring: keyring, fresh: true)
    }

    /// Closes the store's connection; false when it had none.
    func disconnect(_ customKeyStoreID: String) -> Bool {
        let entry = self.entries.withLock { $0.removeValue(forKey: customKeyStoreID) }
        entry?.token.close()
        return entry != nil
    }

    /// Closes every connection (shutdown).
    func closeAll() {
        let all = self.entries.withLock { entries in
            defer { entries.removeAll() }
            return Array(entries.values)
        }
        for entry in all { entry.token.close() }
    }

    private func connect(_ ref: WorkerTokenRef, wrapped: [UInt8], keyring: RootKeyring, fresh: Bool)
        -> Result<PKCS11Token, TokenConnectFailure>
    {
        let path: String
        do throws(KMSError) { path = try self.modules.path(of: ref.module) } catch {
            return .failure(TokenConnectFailure(error))
        }
        return self.connecting.withLock { _ in
            // Another call may have connected the store while this one waited.
            if !fresh, let entry = self.entries.withLock({ $0[ref.customKeyStoreID] }), entry.matches(ref, wrapped),
                entry.token.isUsable
            {
                return .success(entry.token)
            }
            // One token, one store: two stores sharing a token would share its login, and the
            // second one's PIN would never be checked.
            let other = self.entries.withLock { entries in
                entries.first {
                    $0.key != ref.customKeyStoreID && $0.value.modulePath == path
                        && $0.value.label == ref.tokenLabel && $0.value.token.isUsable
                }?.key
            }
            if let other {
                return .failure(
                    TokenConnectFailure(
                        KMSError(
                            .cloudHsmClusterInUse,
                            "the token \(ref.tokenLabel) is connected for custom key store \(other); "
                                + "one token serves one custom key store")))
            }
            _ = self.disconnect(ref.customKeyStoreID)
            var cause: PKCS11Error?
            do throws(KMSError) {
                let module: PKCS11Module
                do throws(PKCS11Error) {
                    module = try PKCS11Module.load(path: path)
                } catch {
                    cause = error
                    throw TokenFailure.map(error)
                }
                let token = try TokenPIN.withUnwrapped(
                    wrapped, customKeyStoreID: ref.customKeyStoreID, keyring: keyring
                ) { pin throws(KMSError) in
                    do throws(PKCS11Error) {
                        return try PKCS11Token.connect(
                            module: module, label: ref.tokenLabel, pin: pin, maxSessions: self.sessionsPerToken)
                    } catch {
                        cause = error
                        throw TokenFailure.map(error)
                    }
                }
                let entry = Entry(
                    module: ref.module, modulePath: path, label: ref.tokenLabel, wrappedPIN: wrapped, token: token)
                self.entries.withLock { $0[ref.customKeyStoreID] = entry }
                _ = self.refusedLogins.withLock { $0.removeValue(forKey: ref.customKeyStoreID) }
                return .success(token)
            } catch {
                if case .call(function: "C_Login", _)? = cause {
                    let seconds = self.loginRetryDelay.components.seconds
                    var refused = error
                    refused.message +=
                        "; kms-cryptod tries this PIN again after \(seconds) s, or at ConnectCustomKeyStore"
                    let entry = RefusedLogin(
                        wrappedPIN: wrapped, until: ContinuousClock.now + self.loginRetryDelay, error: refused)
                    self.refusedLogins.withLock { $0[ref.customKeyStoreID] = entry }
                } else {
                    _ = self.refusedLogins.withLock { $0.removeValue(forKey: ref.customKeyStoreID) }
                }
                return .failure(TokenConnectFailure(error, cause: cause))
            }
        }
    }

    static func check(_ ref: WorkerTokenRef) throws(KMSError) {
        try Self.checkStoreID(ref.customKeyStoreID)
        guard (1...PKCS11Token.maximumLabelBytes).contains(ref.tokenLabel.utf8.count) else {
            throw .validation("token.token_label must be 1..\(PKCS11Token.maximumLabelBytes) bytes")
        }
        guard ref.module.utf8.count <= 64 else { throw .validation("token.module must be at most 64 bytes") }
        guard TokenPIN.rootKeyID(of: [UInt8](ref.wrappedPin)) != nil else {
            throw .validation("token.wrapped_pin must be a PIN wrapped by WrapTokenPin")
        }
    }
}

/// A failed connect: the error kmsd gets, and the PKCS #11 failure behind it when there was one.
struct TokenConnectFailure: Error {
    let error: KMSError
    let cause: PKCS11Error?

    init(_ error: KMSError, cause: PKCS11Error? = nil) {
        self.error = error
        self.cause = cause
    }

    /// AWS's ConnectionErrorCode for DescribeCustomKeyStores.
    var connectionErrorCode: String { TokenFailure.connectionErrorCode(self.error, cause: self.cause) }
}

extension TokenConnections {
    static func checkStoreID(_ id: String) throws(KMSError) {
        let bytes = id.utf8
        guard (1...64).contains(bytes.count),
            bytes.allSatisfy({
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                    || $0 == 0x2D
            })
        else {
            throw .validation("custom_key_store_id must be 1..64 of A-Z, a-z, 0-9 and -")
        }
    }
}

extension TokenConnections.Entry {
    func matches(_ ref: WorkerTokenRef, _ wrapped: [UInt8]) -> Bool {
        self.module == ref.module && self.label == ref.tokenLabel && self.wrappedPIN == wrapped
    }
}
