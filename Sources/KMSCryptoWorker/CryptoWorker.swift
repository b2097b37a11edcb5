import Crypto
import KMSCrypto
import KMSDomain
import KMSProto
import Synchronization

/// Every operation that touches key material. Stateless apart from the keyring and the cache of
/// unwrapped material: each request carries the wrapped material it needs.
///
/// Nothing returned from here contains the plaintext of KMS key material; errors carry
/// ids and lengths only.
public final class CryptoWorker: Sendable {
    private let currentKeyring: Mutex<RootKeyring>
    let cache: MaterialCache

    public init(keyring: RootKeyring, cacheCapacity: Int = 10_000) {
        self.currentKeyring = Mutex(keyring)
        self.cache = MaterialCache(capacity: cacheCapacity)
    }

    var keyring: RootKeyring { self.currentKeyring.withLock { $0 } }

    /// Replaces the keyring (kms-cryptod re-reads its file on SIGHUP): a new root key takes
    /// effect for new material at once, without a restart or a failed request.
    public func reload(_ keyring: RootKeyring) {
        self.currentKeyring.withLock { $0 = keyring }
    }

    /// The material a request refers to, unwrapped (from the cache when possible).
    struct ResolvedKey {
        let keyID: KeyIdentifier
        let keyARN: String
        let materialID: MaterialID
        let material: SymmetricKey
    }

    func resolve(_ ref: WorkerKeyRef, field: String) throws(KMSError) -> ResolvedKey {
        guard !ref.keyArn.isEmpty, ref.keyArn.utf8.count <= 2048 else {
            throw .validation("\(field).key_arn must be 1..2048 characters")
        }
        let keyID = try KeyIdentifier(string: ref.keyID)
        guard ref.hasMaterial else {
            throw .validation("\(field).material is required")
        }
        let materialID = try MaterialID(bytes: ref.material.materialID)
        let cacheKey = MaterialCache.Key(keyARN: ref.keyArn, materialID: materialID.bytes)
        if let material = self.cache.get(cacheKey) {
            return ResolvedKey(keyID: keyID, keyARN: ref.keyArn, materialID: materialID, material: material)
        }
        let (material, header) = try MaterialWrapping.unwrap(
            [UInt8](ref.material.wrapped),
            keyARN: ref.keyArn,
            materialID: materialID,
            keyring: self.keyring
        )
        guard header.kind == .symmetric256 else {
            throw .unsupportedOperation("this operation needs symmetric key material")
        }
        self.cache.put(cacheKey, material)
        return ResolvedKey(keyID: keyID, keyARN: ref.keyArn, materialID: materialID, material: material)
    }
}

extension KMSError {
    static func unsupportedOperation(_ message: String) -> KMSError { KMSError(.unsupportedOperation, message) }
}

extension CryptoWorker {
    public var rootKeyCount: Int { self.keyring.keys.count }
}
