import Crypto

/// Data keys from KMS keys, as the SDKs' AWS KMS keyrings make them: GenerateDataKey under the
/// first key, Encrypt of that data key under each further key, every call with the message's
/// encryption context; encrypted data keys of provider "aws-kms" whose provider information is
/// the key ARN. Strict mode decrypts only with the keys it lists (key ARNs); discovery mode with
/// any key the caller may use, optionally only of one partition and a set of accounts.
public struct KMSKeyring: EnvelopeKeyring {
    /// The provider id of a KMS key's encrypted data key.
    public static let providerID = "aws-kms"

    /// Which keys a discovery keyring may decrypt with.
    public struct DiscoveryFilter: Sendable {
        /// The ARN partition ("aws").
        public var partition: String
        /// The accounts whose keys are used.
        public var accountIDs: Set<String>

        /// Keys of `partition` in `accountIDs` only.
        public init(partition: String, accountIDs: Set<String>) {
            self.partition = partition
            self.accountIDs = accountIDs
        }
    }

    enum Mode: Sendable {
        case strict([String])
        case discovery(DiscoveryFilter?)
    }

    let kms: any EnvelopeKMS
    let mode: Mode

    /// A strict keyring: encrypts under all of `keyIDs` (the first generates the data key; any
    /// key id, alias or ARN), decrypts only with those of them that are key ARNs.
    public init(client: any EnvelopeKMS, keyIDs: [String]) throws(EnvelopeError) {
        guard !keyIDs.isEmpty, !keyIDs.contains(where: \.isEmpty) else {
            throw .invalidArgument("a strict KMS keyring needs at least one key id")
        }
        self.kms = client
        self.mode = .strict(keyIDs)
    }

    /// A discovery keyring: decrypts with whichever KMS key an encrypted data key names (within
    /// `filter`); it cannot encrypt.
    public init(discoveryClient: any EnvelopeKMS, filter: DiscoveryFilter? = nil) {
        self.kms = discoveryClient
        self.mode = .discovery(filter)
    }

    /// GenerateDataKey under the first key, Encrypt under the others.
    public func generateDataKey(suite: AlgorithmSuite, encryptionContext: [String: String]) async throws
        -> DataKeyMaterials
    {
        guard case .strict(let keyIDs) = self.mode else {
            throw EnvelopeError.invalidArgument("a discovery keyring cannot encrypt")
        }
        let generated = try await self.kms.generateDataKey(
            keyID: keyIDs[0], byteCount: suite.dataKeyLength, encryptionContext: encryptionContext)
        guard generated.plaintext.count == suite.dataKeyLength, KeyARN(generated.keyARN) != nil else {
            throw EnvelopeError.kms(
                code: "InvalidResponse", message: "GenerateDataKey answered an unusable data key or key ARN")
        }
        var keys = [Self.encryptedDataKey(arn: generated.keyARN, ciphertext: generated.ciphertext)]
        for keyID in keyIDs.dropFirst() {
            let encrypted = try await self.kms.encrypt(
                keyID: keyID, plaintext: generated.plaintext, encryptionContext: encryptionContext)
            guard KeyARN(encrypted.keyARN) != nil else {
                throw EnvelopeError.kms(code: "InvalidResponse", message: "Encrypt answered no key ARN")
            }
            keys.append(Self.encryptedDataKey(arn: encrypted.keyARN, ciphertext: encrypted.ciphertext))
        }
        return DataKeyMaterials(dataKey: SymmetricKey(data: generated.plaintext), encryptedDataKeys: keys)
    }

    /// Decrypt of each "aws-kms" encrypted data key this keyring may use, in order, until one succeeds.
    public func decryptDataKey(
        suite: AlgorithmSuite, encryptionContext: [String: String], encryptedDataKeys: [EncryptedDataKey]
    ) async throws -> SymmetricKey {
        var failures: [String] = []
        for key in encryptedDataKeys where key.providerID == Self.providerID {
            guard let arnText = String(validating: key.providerInfo, as: UTF8.self), let arn = KeyARN(arnText) else {
                failures.append("provider information that is not a key ARN")
                continue
            }
            guard self.mayDecrypt(with: arn, arnText) else { continue }
            do {
                let decrypted = try await self.kms.decrypt(
                    keyID: arnText, ciphertext: key.ciphertext, encryptionContext: encryptionContext)
                guard decrypted.keyARN == arnText, decrypted.plaintext.count == suite.dataKeyLength else {
                    failures.append("\(arnText): KMS answered for another key or with a key of the wrong length")
                    continue
                }
                return SymmetricKey(data: decrypted.plaintext)
            } catch {
                failures.append("\(arnText): \(error)")
            }
        }
        let tried =
            failures.isEmpty
            ? "none of the message's keys is one this keyring may use" : failures.joined(separator: "; ")
        throw EnvelopeError.noDecryptableDataKey(tried)
    }

    private func mayDecrypt(with arn: KeyARN, _ text: String) -> Bool {
        switch self.mode {
        case .strict(let keyIDs): keyIDs.contains(text)
        case .discovery(nil): true
        case .discovery(let filter?): arn.partition == filter.partition && filter.accountIDs.contains(arn.account)
        }
    }

    private static func encryptedDataKey(arn: String, ciphertext: [UInt8]) -> EncryptedDataKey {
        EncryptedDataKey(providerID: Self.providerID, providerInfo: Array(arn.utf8), ciphertext: ciphertext)
    }
}

/// The parts of a KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID) a discovery filter reads.
struct KeyARN {
    let partition: String
    let account: String

    init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", !parts[1].isEmpty, parts[2] == "kms", !parts[3].isEmpty,
            !parts[4].isEmpty, parts[5].hasPrefix("key/"), parts[5].count > 4
        else { return nil }
        self.partition = String(parts[1])
        self.account = String(parts[4])
    }
}
