import Foundation
import KMSDomain

/// Request checks shared by several operations, with AWS's messages.
enum Validation {
    static func grantTokens(_ tokens: [String]) throws(KMSError) {
        guard tokens.count <= 10 else {
            throw .validation(
                "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have "
                    + "length less than or equal to 10"
            )
        }
        // A length outside the model's GrantTokenType is the model's validation, not a bad token; the
        // tokens themselves are not quoted back (they are bearer credentials).
        for token in tokens where token.isEmpty || token.utf8.count > 8192 {
            throw .validation(
                "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must "
                    + "satisfy constraint: [Member must have length less than or equal to 8192, Member must have "
                    + "length greater than or equal to 1]"
            )
        }
        // A token this service did not issue names no grant anywhere: refused, as AWS refuses one
        // (its exact message is not documented). Whether the grant it names exists is not told here.
        for token in tokens where GrantToken.grantID(from: token) == nil {
            throw KMSError(.invalidGrantToken, "The grant token is not valid.")
        }
    }

    /// The enum value `name` names, or AWS's validation error listing the values in declaration
    /// order (the model's). The value itself is not quoted: the binary protocol carries enums as
    /// numbers, and one outside the set has no name.
    static func member<Value: RawRepresentable & CaseIterable>(_ type: Value.Type, _ name: String, at member: String)
        throws(KMSError) -> Value where Value.RawValue == String
    {
        guard let value = Value(rawValue: name) else {
            throw .validation(
                "1 validation error detected: Value at '\(member)' failed to satisfy constraint: Member must satisfy "
                    + "enum value set: [\(Value.allCases.map(\.rawValue).joined(separator: ", "))]")
        }
        return value
    }

    static func description(_ text: String) throws(KMSError) {
        guard text.utf8.count <= 8192 else {
            throw .validation(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have "
                    + "length less than or equal to 8192"
            )
        }
    }

    static func limit(_ value: Int32?, range: ClosedRange<Int>, default defaultValue: Int) throws(KMSError) -> Int {
        guard let value else { return defaultValue }
        try Limits.check(value: Int(value), in: range, field: "limit")
        return Int(value)
    }

    /// Usable now: its state, and imported material not past its ValidTo (the reaper deletes
    /// such material within a round; until then it is already refused).
    /// The operations served on keys in external key stores.
    static let doubleEncrypting: Set<String> = [
        "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
    ]

    static func usable(_ key: KeyRecord, now: Date) throws(KMSError) {
        try key.state.checkUsable(keyARN: key.arn)
        if KeySchedule.materialExpired(key, at: now) {
            throw KMSError(.invalidState, "\(key.arn)'s imported key material expired; import it again.")
        }
    }

    /// Usable for Encrypt, Decrypt or ReEncrypt: state, usage and algorithm (SYMMETRIC_DEFAULT
    /// when not given). Returns the algorithm. `operation` is the request's, named in the usage error.
    static func encryption(_ key: KeyRecord, algorithm name: String?, operation: String, now: Date) throws(KMSError)
        -> EncryptionAlgorithm
    {
        try usable(key, now: now)
        try usage(key, .encryptDecrypt, operation: operation)
        // Double encryption through the store's proxy is served for these; never for
        // kms-xks-proxy's own operations (XksEncrypt, XksDecrypt).
        if key.customKeyStoreID != nil, !Self.doubleEncrypting.contains(operation) {
            throw KMSError(
                .unsupportedOperation,
                "\(operation) on \(key.arn), a key in a custom key store, is not supported by this service yet.")
        }
        let algorithm = name.flatMap(EncryptionAlgorithm.init(rawValue:)) ?? (name == nil ? .symmetricDefault : nil)
        // The symmetric case is the hot path: decided without building the algorithm list.
        let allowed =
            key.spec == .symmetricDefault
            ? algorithm == .symmetricDefault : algorithm.map(key.encryptionAlgorithms.contains) ?? false
        guard let algorithm, allowed else {
            throw KMSError(
                .invalidKeyUsage,
                "The encryption algorithm \(name ?? "SYMMETRIC_DEFAULT") is not valid for \(key.arn); it supports "
                    + "\(key.encryptionAlgorithms.map(\.rawValue).joined(separator: ", "))."
            )
        }
        return algorithm
    }

    /// Usable for operations that only symmetric encryption keys do (data keys).
    static func symmetricEncryption(_ key: KeyRecord, algorithm: String?, operation: String, now: Date)
        throws(KMSError)
    {
        _ = try encryption(key, algorithm: algorithm, operation: operation, now: now)
        guard key.spec == .symmetricDefault else {
            throw KMSError(
                .invalidKeyUsage, "\(key.arn) is an asymmetric key; this operation needs a symmetric encryption key.")
        }
    }

    /// AWS's message names the operation: `<ARN> key usage is SIGN_VERIFY which is not valid for Encrypt.`
    static func usage(_ key: KeyRecord, _ expected: KeyUsage, operation: String) throws(KMSError) {
        guard key.usage == expected else {
            throw KMSError(
                .invalidKeyUsage, "\(key.arn) key usage is \(key.usage.rawValue) which is not valid for \(operation).")
        }
    }

    /// Sign and Verify: state, usage, algorithm for the key's spec, and the message (RAW:
    /// 1..4096 bytes; DIGEST: exactly the algorithm's digest length).
    static func signing(
        _ key: KeyRecord, algorithm name: String, messageType typeName: String?, message: Int, operation: String,
        now: Date
    ) throws(KMSError) -> (SigningAlgorithm, MessageType) {
        try Limits.check(message, in: Limits.plaintextBytes, field: "message")
        try usable(key, now: now)
        try usage(key, .signVerify, operation: operation)
        guard let algorithm = SigningAlgorithm(rawValue: name), key.signingAlgorithms.contains(algorithm) else {
            throw KMSError(
                .invalidKeyUsage,
                "The signing algorithm \(name.isEmpty ? "(none)" : name) is not valid for \(key.arn); it supports "
                    + "\(key.signingAlgorithms.map(\.rawValue).joined(separator: ", "))."
            )
        }
        let type = typeName.flatMap(MessageType.init(rawValue:)) ?? (typeName == nil ? .raw : nil)
        if type == .externalMu, key.spec.isMLDSA { throw .externalMuUnsupported }
        guard let type, type != .externalMu else {
            throw .validation(
                "1 validation error detected: Value '\(typeName ?? "")' at 'messageType' failed to satisfy "
                    + "constraint: Member must satisfy enum value set: [RAW, DIGEST]"
            )
        }
        if type == .digest {
            guard let digest = algorithm.digestBytes else {
                throw .validation("The signing algorithm \(algorithm.rawValue) signs RAW messages only.")
            }
            guard message == digest else {
                throw .validation("Digest is invalid length for algorithm \(algorithm.rawValue).")
            }
        }
        return (algorithm, type)
    }

    /// GenerateMac and VerifyMac.
    static func mac(_ key: KeyRecord, algorithm name: String, message: Int, operation: String, now: Date)
        throws(KMSError) -> MacAlgorithm
    {
        try Limits.check(message, in: Limits.plaintextBytes, field: "message")
        try usable(key, now: now)
        try usage(key, .generateVerifyMac, operation: operation)
        if let algorithm = MacAlgorithm(rawValue: name), !key.macAlgorithms.contains(algorithm) {
            throw KMSError(
                .invalidKeyUsage, "Algorithm \(algorithm.rawValue) is incompatible with key spec \(key.spec.rawValue).")
        }
        guard let algorithm = MacAlgorithm(rawValue: name), key.macAlgorithms.contains(algorithm) else {
            throw KMSError(
                .invalidKeyUsage,
                "The MAC algorithm \(name.isEmpty ? "(none)" : name) is not valid for \(key.arn); it supports "
                    + "\(key.macAlgorithms.map(\.rawValue).joined(separator: ", "))."
            )
        }
        return algorithm
    }

    static func dryRun(_ requested: Bool) throws(KMSError) {
        if requested {
            throw KMSError(.dryRunOperation, "The request would have succeeded, but the DryRun option is set.")
        }
    }
}
