import Crypto
import Foundation

/// Envelope encryption in the AWS Encryption SDK's message format: what it writes, the SDKs
/// read, and what they write, it reads.
///
///     let envelope = EnvelopeEncryption(keyring: KMSKeyring(client: kms, keyIDs: [keyARN]))
///     let message = try await envelope.encrypt(Array(data), encryptionContext: ["purpose": "backup"])
///     let plaintext = try await envelope.decrypt(message).plaintext
///
/// Keys of the context named in `requiredEncryptionContextKeys` are bound to the message without
/// being stored in it, as the SDKs' required encryption context CMM does: the header's tag (and
/// the keyring's wrapping) covers them, and a reader must supply them again, as its
/// `reproducedEncryptionContext`, to decrypt.
///
/// A signed suite's plaintext is released only once the signature has verified, so decrypting
/// one holds its whole plaintext (up to `Configuration.maxSignedPlaintextLength`); the unsigned
/// suite releases each frame once its tag verifies, for streams of any length.
public struct EnvelopeEncryption: Sendable {
    /// The suite, frame length and limits; the defaults are the SDKs'.
    public struct Configuration: Sendable {
        /// The suite new messages use.
        public var suite = AlgorithmSuite.default
        /// Plaintext bytes per frame of new messages.
        public var frameLength = 4096
        /// Which suites encrypt and decrypt accept.
        public var commitmentPolicy = CommitmentPolicy.requireEncryptRequireDecrypt
        /// The most encrypted data keys a message may carry (written or read); nil: no limit.
        public var maxEncryptedDataKeys: Int?
        /// The largest frame length decrypt accepts, and the largest non-framed body: each is held
        /// whole until its tag verifies.
        public var maxFrameLength = 16 << 20
        /// The largest header decrypt reads from a stream before giving up.
        public var maxHeaderLength = 1 << 20
        /// The most plaintext a signed message's decrypt holds until its signature verifies.
        public var maxSignedPlaintextLength = 64 << 20

        /// The defaults: the signed committing suite, 4096-byte frames, committed messages only, no key limit.
        public init() {}
    }

    /// A message's plaintext and the header it came with (its encryption context among it).
    public struct DecryptedMessage: Sendable {
        /// The plaintext.
        public var plaintext: [UInt8]
        /// The message header.
        public var header: MessageHeader
    }

    /// Where data keys come from.
    public let keyring: any EnvelopeKeyring
    /// Suite, frames and limits.
    public let configuration: Configuration
    /// Data keys kept for reuse; nil: every message asks the keyring.
    public let cache: DataKeyCache?
    /// Keeps this value's cache entries apart from those of another keyring sharing the cache.
    private let cachePartition = UUID()

    /// Envelope encryption with one keyring and, optionally, a data key cache.
    public init(keyring: any EnvelopeKeyring, configuration: Configuration = .init(), cache: DataKeyCache? = nil) {
        self.keyring = keyring
        self.configuration = configuration
        self.cache = cache
    }

    /// Encrypts `plaintext` into one message bound to `encryptionContext`; the pairs of
    /// `requiredEncryptionContextKeys` (keys of that context) are not stored in the message.
    public func encrypt(
        _ plaintext: [UInt8], encryptionContext: [String: String] = [:],
        requiredEncryptionContextKeys: Set<String> = []
    ) async throws -> [UInt8] {
        var encryptor = try await self.startEncryption(
            encryptionContext, requiredKeys: requiredEncryptionContextKeys, plaintextLength: plaintext.count)
        return try encryptor.update(plaintext) + encryptor.finish()
    }

    /// Decrypts one whole message; fails on any damage, a context pair of
    /// `requiredEncryptionContext` that the message lacks, or bytes after the message.
    /// `reproducedEncryptionContext` is the SDKs' reproduced encryption context: its pairs that the
    /// header stores must have the header's values (an error names the key), and its other pairs
    /// are the ones the message requires without storing them, which must be exactly those the
    /// message was made with.
    public func decrypt(
        _ message: [UInt8], requiredEncryptionContext: [String: String] = [:],
        reproducedEncryptionContext: [String: String] = [:]
    ) async throws -> DecryptedMessage {
        guard
            let (header, length) = try MessageHeader.parse(
                message, maxEncryptedDataKeys: self.configuration.maxEncryptedDataKeys)
        else { throw EnvelopeError.malformedMessage("the message is truncated inside its header") }
        var decryptor = try await self.startDecryption(
            header, requiredEncryptionContext: requiredEncryptionContext,
            reproducedEncryptionContext: reproducedEncryptionContext)
        let plaintext = try decryptor.update(message[length...])
        try decryptor.finish()
        return DecryptedMessage(plaintext: plaintext, header: header)
    }

    /// The writer of a new message: its data key from the cache when one fits `plaintextLength`
    /// (nil, unknown: never), else from the keyring.
    func startEncryption(_ context: [String: String], requiredKeys: Set<String> = [], plaintextLength: Int?)
        async throws -> MessageEncryptor
    {
        let suite = self.configuration.suite
        guard self.configuration.commitmentPolicy.allowsEncrypt(suite) else {
            throw EnvelopeError.unsupported(
                "commitment policy \(self.configuration.commitmentPolicy.rawValue) forbids encrypting with \(suite)")
        }
        if let reserved = context.keys.first(where: { $0.hasPrefix(EncryptionContextCoding.reservedPrefix) }) {
            throw EnvelopeError.invalidEncryptionContext("the key \(reserved) is reserved")
        }
        if let missing = requiredKeys.subtracting(context.keys).sorted().first {
            throw EnvelopeError.invalidArgument("the required encryption context key \(missing) is not in the context")
        }
        // The caller's context and which of it is stored, serialized: what cache entries are found by.
        var serialized = ByteWriter()
        serialized.appendShortPrefixed(try EncryptionContextCoding.serialize(context))
        serialized.append(try EncryptionContextCoding.serialize(context.filter { requiredKeys.contains($0.key) }))
        guard let cache = self.cache, let plaintextLength else {
            return try self.encryptor(try await self.prepareEncryption(context), requiredKeys)
        }
        let key = DataKeyCache.encryptionKey(partition: self.cachePartition, suite: suite, context: serialized.bytes)
        if let prepared = cache.takeEncryption(key, length: plaintextLength) {
            return try self.encryptor(prepared, requiredKeys)
        }
        let prepared = try await self.prepareEncryption(context)
        let encryptor = try self.encryptor(prepared, requiredKeys)
        cache.storeEncryption(key, prepared, length: plaintextLength)
        return encryptor
    }

    /// A signing key for a signed suite, and a data key from the keyring for the context with its public key.
    private func prepareEncryption(_ context: [String: String]) async throws -> PreparedEncryption {
        let suite = self.configuration.suite
        var context = context
        let signingKey = MessageSigningKey(for: suite)
        if let signingKey { context[EncryptionContextCoding.publicKeyName] = signingKey.encodedPublicKey }
        // Checked before the keyring is called, so that a context too long is not sent to KMS first.
        _ = try EncryptionContextCoding.serialize(context)
        let materials = try await self.keyring.generateDataKey(suite: suite, encryptionContext: context)
        if let maximum = self.configuration.maxEncryptedDataKeys, materials.encryptedDataKeys.count > maximum {
            throw EnvelopeError.tooManyEncryptedDataKeys(count: materials.encryptedDataKeys.count, maximum: maximum)
        }
        return PreparedEncryption(signingKey: signingKey, context: context, materials: materials)
    }

    private func encryptor(_ prepared: PreparedEncryption, _ requiredKeys: Set<String>) throws -> MessageEncryptor {
        try MessageEncryptor(
            suite: self.configuration.suite, dataKey: prepared.materials.dataKey,
            encryptedDataKeys: prepared.materials.encryptedDataKeys, encryptionContext: prepared.context,
            signingKey: prepared.signingKey, frameLength: self.configuration.frameLength,
            requiredEncryptionContextKeys: requiredKeys)
    }

    func startDecryption(
        _ header: MessageHeader, requiredEncryptionContext: [String: String],
        reproducedEncryptionContext: [String: String] = [:]
    ) async throws -> MessageDecryptor {
        guard self.configuration.commitmentPolicy.allowsDecrypt(header.suite) else {
            throw EnvelopeError.unsupported(
                "commitment policy \(self.configuration.commitmentPolicy.rawValue) forbids decrypting \(header.suite), "
                    + "which has no key commitment")
        }
        guard header.frameLength <= self.configuration.maxFrameLength else {
            throw EnvelopeError.unsupported(
                "a frame length of \(header.frameLength), above the limit of \(self.configuration.maxFrameLength)")
        }
        for (key, value) in requiredEncryptionContext where header.encryptionContext[key] != value {
            throw EnvelopeError.invalidEncryptionContext("the message's context does not have \(key)=\(value)")
        }
        // The reproduced pairs the header does not store: the message must require exactly these.
        var unstored: [String: String] = [:]
        for (key, value) in reproducedEncryptionContext.sorted(by: { $0.key < $1.key }) {
            guard let stored = header.encryptionContext[key] else {
                unstored[key] = value
                continue
            }
            guard stored == value else {
                throw EnvelopeError.invalidEncryptionContext(
                    "the message's value of \(key) is not the reproduced encryption context's")
            }
        }
        let context = header.encryptionContext.merging(unstored) { stored, _ in stored }
        let requiredContext = try EncryptionContextCoding.serialize(unstored)
        let cacheKey = try self.cache.map { _ throws(EnvelopeError) in
            try DataKeyCache.decryptionKey(partition: self.cachePartition, header: header, context: context)
        }
        let limit = self.configuration.maxFrameLength
        if let cache, let cacheKey, let dataKey = cache.takeDecryption(cacheKey) {
            return try MessageDecryptor(
                header: header, dataKey: dataKey, maxSingleBlockLength: limit, requiredContext: requiredContext)
        }
        let dataKey: SymmetricKey
        do {
            dataKey = try await self.keyring.decryptDataKey(
                suite: header.suite, encryptionContext: context, encryptedDataKeys: header.encryptedDataKeys)
        } catch EnvelopeError.noDecryptableDataKey(let reason) where !unstored.isEmpty {
            throw EnvelopeError.noDecryptableDataKey(
                reason + " (with \(unstored.keys.sorted().joined(separator: ", ")) of the reproduced encryption "
                    + "context, which the header does not store: is each a key the message requires, with its value?)")
        }
        let decryptor = try MessageDecryptor(
            header: header, dataKey: dataKey, maxSingleBlockLength: limit, requiredContext: requiredContext)
        // Kept only once the key has passed the commitment and header checks.
        if let cache, let cacheKey { cache.storeDecryption(cacheKey, dataKey) }
        return decryptor
    }
}
