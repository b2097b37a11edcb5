import KMSCrypto
import KMSDomain
import KMSStore
import KMSWorkerProto

/// The operations that use a key's material, each as the IAM action it is authorized as: the
/// one place an operation's action name is written.
enum KeyUse: String, CaseIterable, Sendable {
    case encrypt = "Encrypt"
    case decrypt = "Decrypt"
    case reEncryptFrom = "ReEncryptFrom"
    case reEncryptTo = "ReEncryptTo"
    case generateDataKey = "GenerateDataKey"
    case generateDataKeyWithoutPlaintext = "GenerateDataKeyWithoutPlaintext"
    case generateDataKeyPair = "GenerateDataKeyPair"
    case generateDataKeyPairWithoutPlaintext = "GenerateDataKeyPairWithoutPlaintext"
    case sign = "Sign"
    case verify = "Verify"
    case getPublicKey = "GetPublicKey"
    case generateMac = "GenerateMac"
    case verifyMac = "VerifyMac"
    case deriveSharedSecret = "DeriveSharedSecret"

    /// kms:<action>, as policies and grants name it.
    var action: String { self.rawValue }

    /// The operation GetKeyLastUsage reports: both halves of a ReEncrypt are one ReEncrypt, and
    /// GetPublicKey, which reads no secret, is not recorded (nil).
    var lastUseOperation: String? {
        switch self {
        case .reEncryptFrom, .reEncryptTo: "ReEncrypt"
        case .getPublicKey: nil
        default: self.rawValue
        }
    }

    /// Whether the use may be the first of an AWS managed key (`alias/aws/<service>`), which
    /// AWS creates then: only operations that encrypt under the key the caller names.
    var mayCreateAWSManagedKey: Bool {
        switch self {
        case .encrypt, .reEncryptTo, .generateDataKey, .generateDataKeyWithoutPlaintext, .generateDataKeyPair,
            .generateDataKeyPairWithoutPlaintext:
            true
        default: false
        }
    }
}

/// A key a request may use: found, authorized for the use, checked by the operation, with the
/// material version to use it with.
struct KeyInUse<Checked> {
    let use: KeyUse
    let key: CachedKey
    /// What the operation's check returned (its algorithm, say).
    let checked: Checked
    let material: StoredMaterial

    var record: KeyRecord { self.key.record }

    /// The key as kms-cryptod is told it (the cached key's own when the material is its current).
    var workerKey: WorkerKeyRef {
        if let current = self.key.currentWorkerKey, self.material.materialID == self.key.record.currentMaterialID {
            return current
        }
        return WorkerKeyRef(self.key, material: self.material)
    }
}

extension KMSService {
    /// The opening every operation on a key the caller names shares, in AWS's order (it decides
    /// which error a caller sees): resolve the key (NotFoundException), count the grants its
    /// grant tokens name, authorize the use (AccessDeniedException), the operation's own checks
    /// of state, usage and algorithm (`check`: KMSInvalidStateException, InvalidKeyUsageException,
    /// ...), DryRun (DryRunOperationException), then the key's current material. A use that may
    /// be an AWS managed key's first creates that key once the caller is authorized (`authorizedUse`).
    func openKey<Checked>(
        _ use: KeyUse, named text: String, field: String = "keyId", caller: Caller, grantTokens: [String],
        encryptionContext: [String: String]? = nil, conditions: [String: [String]] = [:], dryRun: Bool,
        check: (KeyRecord) throws(KMSError) -> Checked
    ) async throws(KMSError) -> KeyInUse<Checked> {
        let named = try await self.freshen(
            try await self.resolve(text, for: caller, field: field, creatingAWSManaged: use.mayCreateAWSManagedKey),
            grantTokens: grantTokens)
        let key = try await self.authorizedUse(
            named, caller, action: use.action, encryptionContext: encryptionContext, conditions: conditions)
        let checked = try check(key.record)
        try Validation.dryRun(dryRun)
        return KeyInUse(use: use, key: key, checked: checked, material: try self.currentMaterial(of: key))
    }

    /// The opening of an operation on a ciphertext (Decrypt, ReEncrypt's source): the key the
    /// caller names, if any (NotFoundException), then the key and material the ciphertext names,
    /// authorized for the use (see `keyForCiphertext`), the operation's checks, and DryRun.
    func openCiphertextKey<Checked>(
        _ use: KeyUse, blob: [UInt8], named text: String?, field: String = "keyId", caller: Caller,
        grantTokens: [String], encryptionContext: [String: String], conditions: [String: [String]], dryRun: Bool,
        check: (KeyRecord) throws(KMSError) -> Checked
    ) async throws(KMSError) -> KeyInUse<Checked> {
        // An asymmetric ciphertext does not name its key: the caller must (as at AWS).
        var given: CachedKey?
        if let text { given = try await self.resolve(text, for: caller, field: field) }
        let (key, material) = try await self.keyForCiphertext(
            blob, named: given, caller: caller, action: use.action, encryptionContext: encryptionContext,
            conditions: conditions, grantTokens: grantTokens)
        let checked = try check(key.record)
        try Validation.dryRun(dryRun)
        return KeyInUse(use: use, key: key, checked: checked, material: material)
    }

    /// Records a successful use for GetKeyLastUsage.
    func recordUse<Checked>(of key: KeyInUse<Checked>, by caller: Caller) {
        guard let operation = key.use.lastUseOperation else { return }
        self.lastUsage.record(keyID: key.record.keyID, operation: operation, requestID: caller.requestID)
    }
}
