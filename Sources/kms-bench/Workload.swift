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
    /// The two-hop ceiling pair's echo (see `ceiling-front`).
    case echo = "Echo"
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
                throw ValidationErrorText("unknown operation '\(pieces[0])'; known: \(Operation.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let weight = pieces.count > 1 ? Int(pieces[1]) ?? -1 : 1
            guard weight > 0 else { throw ValidationErrorText("weight of \(operation.rawValue) must be a positive integer") }
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
    let random: KMSGenerateRandomRequest
    let echoPayload: [UInt8]

    /// Creates `keys` keys (named by alias when `byAlias`), or uses `keyID`, and makes one data
    /// key blob per key for Decrypt and ReEncrypt.
    static func prepare(client: KMSClient, keyID: String?, keys: Int, byAlias: Bool, payload: Int, context: [String: String]) async throws -> Workload {
        var references: [String] = []
        if let keyID {
            references = [keyID]
        } else {
            let run = UUID().uuidString.prefix(8).lowercased()
            for index in 0..<keys {
                var create = KMSCreateKeyRequest()
                create.description_p = "kms-bench \(run) \(index)"
                let key = try await client.call(KMSMethod.createKey, create).keyMetadata
                if byAlias {
                    var alias = KMSCreateAliasRequest()
                    alias.aliasName = "alias/kms-bench/\(run)/\(index)"
                    alias.targetKeyID = key.keyID
                    _ = try await client.call(KMSMethod.createAlias, alias)
                    references.append(alias.aliasName)
                } else {
                    references.append(key.keyID)
                }
            }
        }
        let plaintext = Data((0..<max(1, min(payload, 4096))).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var targets: [Target] = []
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
            targets.append(Target(
                keyReference: reference, encrypt: encrypt, decrypt: decrypt, generateDataKey: generate,
                generateDataKeyWithoutPlaintext: withoutPlaintext, reEncrypt: reEncrypt
            ))
        }
        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = Int32(max(1, min(payload, 1024)))
        return Workload(targets: targets, random: random, echoPayload: Array(plaintext))
    }

    /// A workload for the ceiling pair, which needs no keys.
    static func echo(payload: Int) -> Workload {
        Workload(targets: [], random: KMSGenerateRandomRequest(), echoPayload: [UInt8](repeating: 7, count: max(1, payload)))
    }

    /// Sends one request; throws the error code on failure.
    func perform(_ operation: Operation, target index: Int, on client: KMSClient?, echo: RPCClientConnection?) async throws {
        if operation == .echo {
            guard let echo else { throw KMSClientError(code: "ValidationException", message: "Echo needs --ceiling", retryable: false) }
            do {
                _ = try await echo.call(method: "Echo", payload: self.echoPayload)
            } catch let error as RPCError {
                throw KMSClientError(code: error.code, message: error.message, retryable: error.retryable)
            }
            return
        }
        guard let client else { throw KMSClientError(code: "ValidationException", message: "\(operation.rawValue) needs a KMS endpoint", retryable: false) }
        if operation == .generateRandom {
            _ = try await client.call(KMSMethod.generateRandom, self.random)
            return
        }
        let target = self.targets[index % self.targets.count]
        switch operation {
        case .encrypt: _ = try await client.call(KMSMethod.encrypt, target.encrypt)
        case .decrypt: _ = try await client.call(KMSMethod.decrypt, target.decrypt)
        case .generateDataKey: _ = try await client.call(KMSMethod.generateDataKey, target.generateDataKey)
        case .generateDataKeyWithoutPlaintext: _ = try await client.call(KMSMethod.generateDataKeyWithoutPlaintext, target.generateDataKeyWithoutPlaintext)
        case .reEncrypt: _ = try await client.call(KMSMethod.reEncrypt, target.reEncrypt)
        case .generateRandom, .echo: break
        }
    }
}
