import Foundation
import KMSClient
import KMSProto
import KMSRPC

/// The operations kms-bench can drive.
enum Operation: String, CaseIterable, Sendable {
    case encrypt = "Encrypt"
    case decrypt = "Decrypt"
    case generateDataKey = "GenerateDataKey"
    case generateDataKeyWithoutPlaintext = "GenerateDataKeyWithoutPlaintext"
    case reEncrypt = "ReEncrypt"
    case generateRandom = "GenerateRandom"
    case sign = "Sign"
    case verify = "Verify"
    case generateMac = "GenerateMac"
    case verifyMac = "VerifyMac"
    /// A new symmetric key per request: the commit-bound administration path.
    case createKey = "CreateKey"
    /// The two-hop ceiling pair's echo (see `ceiling-front`).
    case echo = "Echo"

    /// The kind of key the operation needs; setup makes keys only of the kinds the mix names.
    enum KeyKind { case encryption, signing, mac, none }

    var keyKind: KeyKind {
        switch self {
        case .encrypt, .decrypt, .generateDataKey, .generateDataKeyWithoutPlaintext, .reEncrypt: .encryption
        case .sign, .verify: .signing
        case .generateMac, .verifyMac: .mac
        case .generateRandom, .createKey, .echo: .none
        }
    }
}

/// Weighted operations, e.g. "GenerateDataKey:50,Decrypt:50" or just "Encrypt".
struct Mix: Sendable, CustomStringConvertible {
    let entries: [(operation: Operation, weight: Int)]
    let total: Int

    init(parsing text: String) throws {
        var entries: [(Operation, Int)] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: ":")
            guard let operation = Operation(rawValue: String(pieces[0])) else {
                throw ValidationErrorText(
                    "unknown operation '\(pieces[0])'; known: "
                        + "\(Operation.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            let weight = pieces.count > 1 ? Int(pieces[1]) ?? -1 : 1
            guard weight > 0 else {
                throw ValidationErrorText("weight of \(operation.rawValue) must be a positive integer")
            }
            entries.append((operation, weight))
        }
        guard !entries.isEmpty else { throw ValidationErrorText("--mix names no operation") }
        self.entries = entries
        self.total = entries.reduce(0) { $0 + $1.1 }
    }

    func pick(_ roll: Int) -> Operation {
        var remaining = roll % self.total
        for entry in self.entries {
            if remaining < entry.weight { return entry.operation }
            remaining -= entry.weight
        }
        return self.entries[0].operation
    }

    var keyKinds: Set<Operation.KeyKind> { Set(self.entries.map(\.operation.keyKind)) }

    var description: String { self.entries.map { "\($0.operation.rawValue):\($0.weight)" }.joined(separator: ",") }
}

struct ValidationErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Requests built once before the run, so the measured loop only sends them.
struct Workload: Sendable {
    struct Target: Sendable {
        let keyReference: String
        let encrypt: KMSEncryptRequest
        let decrypt: KMSDecryptRequest
        let generateDataKey: KMSGenerateDataKeyRequest
        let generateDataKeyWithoutPlaintext: KMSGenerateDataKeyWithoutPlaintextRequest
        let reEncrypt: KMSReEncryptRequest
    }

    let targets: [Target]
    let signers: [SigningTarget]
    let macs: [MacTarget]
    let random: KMSGenerateRandomRequest
    let createKey: KMSCreateKeyRequest
    let echoPayload: Data

    /// The keys the load is spread over, of all kinds.
    var keyCount: Int { self.targets.count + self.signers.count + self.macs.count }

    /// For each kind of key the mix needs, creates `keys` keys (named by alias when `byAlias`),
    /// or uses `keyID`, and builds the requests: one data key blob per encryption key for
    /// Decrypt and ReEncrypt, one signature per signing key for Verify, one MAC per HMAC key
    /// for VerifyMac.
    static func prepare(
        client: KMSClient, keyID: String?, keys: Int, byAlias: Bool, keySet: String?, payload: Int,
        context: [String: String], kinds: Set<Operation.KeyKind>, signingKeySpec: KMSKeySpec
    ) async throws -> Workload {
        let run = keySet.map { "set/\($0)" } ?? String(UUID().uuidString.prefix(8).lowercased())
        let reuse = keySet != nil
        let plaintext = Data((0..<max(1, min(payload, 4096))).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var targets: [Target] = []
        let references =
            try await !kinds.contains(.encryption)
            ? []
            : Self.keys(
                client: client, keyID: keyID, count: keys, byAlias: byAlias, reuse: reuse, name: "\(run)",
                create: KMSCreateKeyRequest())
        for reference in references {
            var generate = KMSGenerateDataKeyRequest()
            generate.keyID = reference
            generate.keySpec = .aes256
            generate.encryptionContext = context
            let blob = try await client.call(KMSMethod.generateDataKey, generate).ciphertextBlob

            var encrypt = KMSEncryptRequest()
            encrypt.keyID = reference
            encrypt.plaintext = plaintext
            encrypt.encryptionContext = context
            var decrypt = KMSDecryptRequest()
            decrypt.ciphertextBlob = blob
            decrypt.encryptionContext = context
            var withoutPlaintext = KMSGenerateDataKeyWithoutPlaintextRequest()
            withoutPlaintext.keyID = reference
            withoutPlaintext.keySpec = .aes256
            withoutPlaintext.encryptionContext = context
            var reEncrypt = KMSReEncryptRequest()
            reEncrypt.ciphertextBlob = blob
            reEncrypt.sourceEncryptionContext = context
            reEncrypt.destinationKeyID = reference
            reEncrypt.destinationEncryptionContext = context
            targets.append(
                Target(
                    keyReference: reference, encrypt: encrypt, decrypt: decrypt, generateDataKey: generate,
                    generateDataKeyWithoutPlaintext: withoutPlaintext, reEncrypt: reEncrypt
                ))
        }
        var signers: [SigningTarget] = []
        if kinds.contains(.signing) {
            var create = KMSCreateKeyRequest()
            create.keyUsage = .signVerify
            create.keySpec = signingKeySpec
            for reference in try await Self.keys(
                client: client, keyID: keyID, count: keys, byAlias: byAlias, reuse: reuse, name: "\(run)/sign",
                create: create)
            {
                let spec = try await keyID == nil ? signingKeySpec : Self.keySpec(client: client, reference: reference)
                signers.append(
                    try await SigningTarget.prepare(
                        client: client, keyReference: reference, spec: spec, payload: plaintext))
            }
        }
        var macs: [MacTarget] = []
        if kinds.contains(.mac) {
            var create = KMSCreateKeyRequest()
            create.keyUsage = .generateVerifyMac
            create.keySpec = .hmac256
            for reference in try await Self.keys(
                client: client, keyID: keyID, count: keys, byAlias: byAlias, reuse: reuse, name: "\(run)/mac",
                create: create)
            {
                let spec = try await keyID == nil ? .hmac256 : Self.keySpec(client: client, reference: reference)
                macs.append(
                    try await MacTarget.prepare(client: client, keyReference: reference, spec: spec, payload: plaintext)
                )
            }
        }
        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = Int32(max(1, min(payload, 1024)))
        return Workload(
            targets: targets, signers: signers, macs: macs, random: random, createKey: Self.loadKey(run),
            echoPayload: Data(plaintext))
    }

    /// `keyID` alone, or `count` new keys made by `create` (named by alias when `byAlias`). With
    /// `reuse`, every key gets its alias and a key whose alias already exists is used, not made.
    private static func keys(
        client: KMSClient, keyID: String?, count: Int, byAlias: Bool, reuse: Bool, name: String,
        create: KMSCreateKeyRequest
    ) async throws -> [String] {
        if let keyID { return [keyID] }
        var references: [String] = []
        for index in 0..<count {
            let aliasName = "alias/kms-bench/\(name)/\(index)"
            let existing = reuse ? try await Self.target(of: aliasName, client: client) : nil
            if let existing {
                references.append(byAlias ? aliasName : existing)
                continue
            }
            var create = create
            create.description_p = "kms-bench \(name) \(index)"
            let key = try await client.call(KMSMethod.createKey, create).keyMetadata
            if byAlias || reuse {
                var alias = KMSCreateAliasRequest()
                alias.aliasName = aliasName
                alias.targetKeyID = key.keyID
                _ = try await client.call(KMSMethod.createAlias, alias)
            }
            references.append(byAlias ? aliasName : key.keyID)
        }
        return references
    }

    /// The id of the key `aliasName` names, nil when there is no such alias.
    private static func target(of aliasName: String, client: KMSClient) async throws -> String? {
        var describe = KMSDescribeKeyRequest()
        describe.keyID = aliasName
        do {
            return try await client.call(KMSMethod.describeKey, describe).keyMetadata.keyID
        } catch {
            if error.code == "NotFoundException" { return nil }
            throw error
        }
    }

    /// The spec of a key given by --key-id, which decides the signing or MAC algorithm.
    private static func keySpec(client: KMSClient, reference: String) async throws -> KMSKeySpec {
        var describe = KMSDescribeKeyRequest()
        describe.keyID = reference
        return try await client.call(KMSMethod.describeKey, describe).keyMetadata.keySpec
    }

    /// A workload for the ceiling pair, which needs no keys.
    static func echo(payload: Int) -> Workload {
        Workload(
            targets: [], signers: [], macs: [], random: KMSGenerateRandomRequest(), createKey: KMSCreateKeyRequest(),
            echoPayload: Data(repeating: 7, count: max(1, payload)))
    }

    /// Sends one request; throws the error code on failure.
    func perform(_ operation: Operation, target index: Int, on client: KMSClient?, echo: RPCClientConnection?)
        async throws
    {
        if operation == .echo {
            guard let echo else {
                throw KMSClientError(code: "ValidationException", message: "Echo needs --ceiling", retryable: false)
            }
            do {
                _ = try await echo.call(method: "Echo", data: self.echoPayload)
            } catch let error as RPCError {
                throw KMSClientError(error)
            }
            return
        }
        guard let client else {
            throw KMSClientError(
                code: "ValidationException", message: "\(operation.rawValue) needs a KMS endpoint", retryable: false)
        }
        if operation == .generateRandom {
            _ = try await client.call(KMSMethod.generateRandom, self.random)
            return
        }
        if operation == .createKey {
            _ = try await client.call(KMSMethod.createKey, self.createKey)
            return
        }
        // Each kind of key has its own targets; the index picks among that kind's.
        func target() -> Target { self.targets[index % self.targets.count] }
        func signer() -> SigningTarget { self.signers[index % self.signers.count] }
        func mac() -> MacTarget { self.macs[index % self.macs.count] }
        switch operation {
        case .encrypt: _ = try await client.call(KMSMethod.encrypt, target().encrypt)
        case .decrypt: _ = try await client.call(KMSMethod.decrypt, target().decrypt)
        case .generateDataKey: _ = try await client.call(KMSMethod.generateDataKey, target().generateDataKey)
        case .generateDataKeyWithoutPlaintext:
            _ = try await client.call(
                KMSMethod.generateDataKeyWithoutPlaintext, target().generateDataKeyWithoutPlaintext)
        case .reEncrypt: _ = try await client.call(KMSMethod.reEncrypt, target().reEncrypt)
        case .sign: _ = try await client.call(KMSMethod.sign, signer().sign)
        case .verify: _ = try await client.call(KMSMethod.verify, signer().verify)
        case .generateMac: _ = try await client.call(KMSMethod.generateMac, mac().generate)
        case .verifyMac: _ = try await client.call(KMSMethod.verifyMac, mac().verify)
        case .generateRandom, .createKey, .echo: break
        }
    }

    /// The CreateKey the load sends: a symmetric key tagged with the run, so that its keys can be
    /// told apart (and scheduled for deletion) afterwards.
    static func loadKey(_ run: String) -> KMSCreateKeyRequest {
        var create = KMSCreateKeyRequest()
        create.description_p = "kms-bench load \(run)"
        var tag = KMSTag()
        tag.tagKey = "kms-bench-run"
        tag.tagValue = run
        create.tags = [tag]
        return create
    }
}
