import Crypto
import KMSCrypto
import KMSDomain
import KMSWorkerProto
import NIOCore
import Synchronization

/// Every operation that touches key material. Stateless apart from the keyring and the cache of
/// unwrapped material: each request carries the wrapped material it needs.
///
/// Nothing returned from here contains the plaintext of KMS key material; errors carry
/// ids and lengths only.
public final class CryptoWorker: Sendable {
    private let currentKeyring: Mutex<RootKeyring>
    let cache: MaterialCache<UnwrappedMaterial>
    /// RSA private-key operations: about a millisecond each, so never on an event loop.
    let heavy: HeavyWork
    /// Key generation (RSA-4096 takes seconds) has a pool of its own, so a burst of CreateKey
    /// calls never queues RSA Sign and Decrypt requests behind it.
    let generation: HeavyWork
    /// What SigV4 signing keys are derived for (kms-cryptod's `--regions`).
    let signingScope: SigningKeyScope
    /// Logged-in PKCS #11 token connections (AWS_CLOUDHSM custom key stores).
    let tokens: TokenConnections
    /// Token calls block on the token (a networked HSM: milliseconds), so they have threads of
    /// their own, as many as a token has sessions.
    let tokenWork: HeavyWork

    /// `cacheCapacity`: unwrapped materials kept; `heavyThreads` and `heavyQueueLimit` size the pool for
    /// RSA private-key work (past the queue limit, requests fail with a retryable ThrottlingException).
    /// `pkcs11Modules`: the PKCS #11 modules requests may name; `tokenSessions`: sessions per token,
    /// and threads for token calls.
    public init(
        keyring: RootKeyring, cacheCapacity: Int = 10_000, heavyThreads: Int = NIOCore.System.coreCount,
        heavyQueueLimit: Int = 512,
        signingScope: SigningKeyScope = SigningKeyScope(),
        pkcs11Modules: PKCS11ModuleAllowList = PKCS11ModuleAllowList(), tokenSessions: Int = 4
    ) {
        self.signingScope = signingScope
        self.tokens = TokenConnections(modules: pkcs11Modules, sessionsPerToken: tokenSessions)
        self.tokenWork = HeavyWork(threads: tokenSessions, queueLimit: 512)
        self.currentKeyring = Mutex(keyring)
        self.cache = MaterialCache(capacity: cacheCapacity)
        self.heavy = HeavyWork(threads: heavyThreads, queueLimit: heavyQueueLimit)
        self.generation = HeavyWork(threads: 1, queueLimit: 64)
    }

    var keyring: RootKeyring { self.currentKeyring.withLock { $0 } }

    /// Replaces the keyring (kms-cryptod re-reads its file on SIGHUP): a new root key takes
    /// effect for new material at once, without a restart or a failed request.
    public func reload(_ keyring: RootKeyring) {
        self.currentKeyring.withLock { $0 = keyring }
    }

    /// Stops the heavy-work threads (after the listener has closed).
    public func shutdown() async {
        await self.heavy.shutdown()
        await self.generation.shutdown()
        await self.tokenWork.shutdown()
        self.tokens.closeAll()
    }

    /// The material a request refers to, unwrapped (from the cache when possible).
    struct ResolvedKey {
        let keyID: KeyID
        let keyARN: String
        let spec: KeySpec
        let materialID: MaterialID
        let unwrapped: UnwrappedMaterial

        /// The material of a SYMMETRIC_DEFAULT key.
        func symmetric() throws(KMSError) -> SymmetricKey {
            guard case .symmetric(let key) = self.unwrapped else {
                throw .invalidKeyUsage("this operation needs a symmetric encryption key")
            }
            return key
        }

        func privateKey() throws(KMSError) -> PrivateKey {
            guard case .privateKey(let key) = self.unwrapped else {
                throw .invalidKeyUsage("this operation needs an asymmetric key")
            }
            return key
        }

        func hmac() throws(KMSError) -> SymmetricKey {
            guard case .hmac(let key) = self.unwrapped else {
                throw .invalidKeyUsage("this operation needs an HMAC key")
            }
            return key
        }
    }

    func resolve(_ ref: WorkerKeyRef, field: String) throws(KMSError) -> ResolvedKey {
        guard !ref.keyArn.isEmpty, ref.keyArn.utf8.count <= 2048 else {
            throw .validation("\(field).key_arn must be 1..2048 characters")
        }
        let keyID = try KeyID(parsing: ref.keyID)
        let spec = try Self.spec(ref.keySpec, field: "\(field).key_spec")
        guard ref.hasMaterial else {
            throw .validation("\(field).material is required")
        }
        let materialID = try MaterialID(bytes: ref.material.materialID)
        let cacheKey = MaterialCache<UnwrappedMaterial>.Key(keyARN: ref.keyArn, materialID: materialID.bytes)
        if let material = self.cache.get(cacheKey) {
            try material.check(spec)
            return ResolvedKey(
                keyID: keyID, keyARN: ref.keyArn, spec: spec, materialID: materialID, unwrapped: material)
        }
        let (material, header) = try MaterialWrapping.unwrap(
            [UInt8](ref.material.wrapped),
            keyARN: ref.keyArn,
            materialID: materialID,
            keyring: self.keyring
        )
        let unwrapped = try UnwrappedMaterial(material, kind: header.kind, spec: spec)
        self.cache.put(cacheKey, unwrapped)
        return ResolvedKey(keyID: keyID, keyARN: ref.keyArn, spec: spec, materialID: materialID, unwrapped: unwrapped)
    }

    static func spec(_ value: WorkerKeySpec, field: String) throws(KMSError) -> KeySpec {
        let spec = try value.required(field, unspecified: .symmetricDefault)
        guard spec.isSupported else {
            throw .validation("\(field) \(spec.rawValue) is not a supported KeySpec")
        }
        return spec
    }
}

/// Unwrapped material, parsed once and cached: parsing an RSA key costs more than using it.
enum UnwrappedMaterial: Sendable {
    case symmetric(SymmetricKey)
    case privateKey(PrivateKey)
    case hmac(SymmetricKey)

    init(_ material: SymmetricKey, kind: MaterialKind, spec: KeySpec) throws(KMSError) {
        switch (kind, spec) {
        case (.symmetric256, .symmetricDefault):
            self = .symmetric(material)
        case (.hmac, _) where spec.isHMAC:
            self = .hmac(material)
        case (.privateKey, _) where spec.isAsymmetric:
            let key: PrivateKey
            do {
                key = try material.withUnsafeBytes { bytes in try PrivateKey(pkcs8DER: Array(bytes), spec: spec) }
            } catch {
                throw .internalFailure("stored key material does not parse as a \(spec.rawValue) key", retryable: false)
            }
            self = .privateKey(key)
        default:
            throw .internalFailure(
                "stored key material of kind \(kind) does not belong to a \(spec.rawValue) key", retryable: false)
        }
    }

    /// A cached entry serves only requests naming the spec it was parsed for.
    func check(_ spec: KeySpec) throws(KMSError) {
        let matches =
            switch self {
            case .symmetric: spec == .symmetricDefault
            case .hmac: spec.isHMAC
            case .privateKey(let key): key.spec == spec
            }
        guard matches else {
            throw .internalFailure("stored key material does not belong to a \(spec.rawValue) key", retryable: false)
        }
    }
}

extension KMSError {
    static func unsupportedOperation(_ message: String) -> KMSError { KMSError(.unsupportedOperation, message) }
    static func invalidKeyUsage(_ message: String) -> KMSError { KMSError(.invalidKeyUsage, message) }
}

extension CryptoWorker {
    /// Root keys in the current keyring (kms-cryptod logs it at start).
    public var rootKeyCount: Int { self.keyring.keys.count }

    /// The id of the root key new material is wrapped under (kms-cryptod logs it at start).
    public var activeRootKeyID: String { self.keyring.active.id.description }
}
