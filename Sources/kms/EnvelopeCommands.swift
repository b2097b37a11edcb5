import ArgumentParser
import Foundation
import KMSClient
import KMSEnvelope

/// `kms envelope encrypt|decrypt`: files of any size in the AWS Encryption SDK's message format,
/// under data keys from kmsd; the SDKs (and the aws-encryption-cli) read what it writes and the
/// other way round.
struct Envelope: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "envelope",
        abstract: "Encrypt and decrypt files of any size in the AWS Encryption SDK's message format.",
        discussion: """
            Data keys come from kmsd (GenerateDataKey, Encrypt, Decrypt with the message's \
            encryption context). The output is written to a temporary file beside --output and \
            renamed over it only when the whole input has been processed and verified, so a failure \
            leaves no partial output (with --output -, standard output, it may).
            """,
        subcommands: [EnvelopeEncrypt.self, EnvelopeDecrypt.self]
    )
}

/// What both directions take: the files, the context and the progress line.
struct EnvelopeFileOptions: ParsableArguments {
    @Option(help: "The file to read; - for standard input.") var input: String
    @Option(help: "The file to write (replaced once complete); - for standard output.") var output: String
    @Option(
        parsing: .upToNextOption,
        help: "Encryption context pairs, k=v (several, or k=v,k2=v2). On decrypt, pairs the message must have.")
    var encryptionContext: [String] = []
    @Flag(
        inversion: .prefixedNo,
        help: "A progress line on stderr (default: when stderr is a terminal and the input a file of 16 MiB or more).")
    var progress: Bool?

    func context() throws -> [String: String] {
        var context: [String: String] = [:]
        for item in self.encryptionContext {
            for (key, value) in try ArgumentValues.context(item, option: "--encryption-context") ?? [:] {
                context[key] = value
            }
        }
        return context
    }

    /// Streams `transform` of the input's chunks to the output, with the progress line.
    func run<Output: AsyncSequence>(
        mode: mode_t, _ transform: (EnvelopeFileInput) -> Output
    ) async throws where Output.Element == [UInt8] {
        let input = try EnvelopeFileInput(path: self.input)
        let output = try EnvelopeFileOutput(path: self.output, mode: mode)
        let progress = EnvelopeProgress(
            total: input.size, enabled: self.progress ?? (isatty(2) == 1 && (input.size ?? 0) >= 16 << 20))
        do {
            for try await chunk in transform(input) {
                try output.write(chunk)
                progress.update(input.bytesRead)
            }
            try output.commit()
            progress.finish(input.bytesRead)
        } catch {
            output.discard()
            progress.finish(nil)
            throw error
        }
    }
}

struct EnvelopeEncrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Encrypt a file under one or more KMS keys.",
        discussion: """
            kms envelope encrypt --key-id alias/backup --input db.dump --output db.dump.encrypted \
            --encryption-context purpose=backup host=db1
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "A KMS key (id, alias or ARN); repeat for several: the first makes the data key, any decrypts.")
    var keyId: [String]
    @OptionGroup var files: EnvelopeFileOptions
    @Option(
        help: ArgumentHelp(
            "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 (default; signed, so decrypt holds the plaintext until "
                + "the signature verifies) or AES_256_GCM_HKDF_SHA512_COMMIT_KEY (decrypts as a stream)."))
    var algorithmSuite: String = AlgorithmSuite.default.description
    @Option(help: "Plaintext bytes per frame.") var frameLength: Int = 4096
    @Option(help: "Refuse to write more encrypted data keys than this.") var maxEncryptedDataKeys: Int?

    func validate() throws {
        guard let suite = AlgorithmSuite(name: self.algorithmSuite), suite.isCommitting else {
            throw ValidationError(
                "--algorithm-suite must be AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 or "
                    + "AES_256_GCM_HKDF_SHA512_COMMIT_KEY")
        }
        guard (1...Int(UInt32.max)).contains(self.frameLength) else {
            throw ValidationError("--frame-length must be between 1 and \(UInt32.max)")
        }
    }

    func run() async throws {
        let client = try self.connection.makeClient()
        defer { Task { await client.close() } }
        var configuration = EnvelopeEncryption.Configuration()
        configuration.suite = AlgorithmSuite(name: self.algorithmSuite) ?? .default
        configuration.frameLength = self.frameLength
        configuration.maxEncryptedDataKeys = self.maxEncryptedDataKeys
        let context = try self.files.context()
        try await envelopeFailures("encrypt") {
            let envelope = EnvelopeEncryption(
                keyring: try KMSKeyring(client: client, keyIDs: self.keyId), configuration: configuration)
            try await self.files.run(mode: 0o644) { envelope.encrypt($0, encryptionContext: context) }
        }
    }
}

struct EnvelopeDecrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt a file made by kms envelope encrypt or an AWS Encryption SDK.",
        discussion: """
            Name the keys that may decrypt (--key-id, key ARNs) or use --discovery, with \
            --discovery-account to keep to your accounts. A signed message's plaintext is held in \
            memory until its signature verifies, up to --max-signed-plaintext; the unsigned suite \
            streams.
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "A key ARN that may decrypt; repeat for several.") var keyId: [String] = []
    @Flag(help: "Decrypt with whichever key the message names (within --discovery-account).") var discovery = false
    @Option(help: "With --discovery: only keys of this account; repeat for several.") var discoveryAccount: [String] =
        []
    @Option(help: "With --discovery-account: the keys' ARN partition.") var discoveryPartition = "aws"
    @OptionGroup var files: EnvelopeFileOptions
    @Option(
        help: ArgumentHelp(
            "require-encrypt-require-decrypt (default) or require-encrypt-allow-decrypt, which also reads "
                + "messages without key commitment (format 1)."))
    var commitmentPolicy = CommitmentPolicy.requireEncryptRequireDecrypt.rawValue
    @Option(help: "Refuse messages with more encrypted data keys than this.") var maxEncryptedDataKeys: Int?
    @Option(help: "The most plaintext of a signed message held until its signature verifies, in bytes.")
    var maxSignedPlaintext = 64 << 20

    func validate() throws {
        guard self.discovery != !self.keyId.isEmpty else {
            throw ValidationError("give --key-id (one or more key ARNs) or --discovery")
        }
        guard self.discovery || self.discoveryAccount.isEmpty else {
            throw ValidationError("--discovery-account goes with --discovery")
        }
        guard CommitmentPolicy(rawValue: self.commitmentPolicy) != nil else {
            throw ValidationError(
                "--commitment-policy must be require-encrypt-require-decrypt or require-encrypt-allow-decrypt")
        }
    }

    func run() async throws {
        let client = try self.connection.makeClient()
        defer { Task { await client.close() } }
        var configuration = EnvelopeEncryption.Configuration()
        configuration.commitmentPolicy =
            CommitmentPolicy(rawValue: self.commitmentPolicy) ?? .requireEncryptRequireDecrypt
        configuration.maxEncryptedDataKeys = self.maxEncryptedDataKeys
        configuration.maxSignedPlaintextLength = self.maxSignedPlaintext
        let required = try self.files.context()
        try await envelopeFailures("decrypt") {
            let keyring =
                self.discovery
                ? KMSKeyring(
                    discoveryClient: client,
                    filter: self.discoveryAccount.isEmpty
                        ? nil : .init(partition: self.discoveryPartition, accountIDs: Set(self.discoveryAccount)))
                : try KMSKeyring(client: client, keyIDs: self.keyId)
            let envelope = EnvelopeEncryption(keyring: keyring, configuration: configuration)
            try await self.files.run(mode: 0o600) { envelope.decrypt($0, requiredEncryptionContext: required) }
        }
    }
}

/// Exits 254 with one line on stderr when the envelope fails, as the operations do when kmsd refuses.
func envelopeFailures(_ command: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as EnvelopeError {
        FileHandle.standardError.write(Data("kms envelope \(command): \(error)\n".utf8))
        throw ExitCode(254)
    }
}
