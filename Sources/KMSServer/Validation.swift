import KMSDomain

/// Request checks shared by several operations, with AWS's messages.
enum Validation {
    static func grantTokens(_ tokens: [String]) throws(KMSError) {
        guard tokens.count <= 10 else {
            throw .validation("1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10")
        }
        for token in tokens where token.isEmpty || token.utf8.count > 8192 {
            throw KMSError(.invalidGrantToken, "grant token must be 1..8192 characters")
        }
    }

    static func description(_ text: String) throws(KMSError) {
        guard text.utf8.count <= 8192 else {
            throw .validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192")
        }
    }

    static func limit(_ value: Int32?, range: ClosedRange<Int>, default defaultValue: Int) throws(KMSError) -> Int {
        guard let value else { return defaultValue }
        try Limits.check(value: Int(value), in: range, field: "limit")
        return Int(value)
    }

    /// Usable for symmetric encryption: state, usage and (if given) algorithm.
    static func symmetricEncryption(_ key: KeyRecord, algorithm: String?) throws(KMSError) {
        try key.state.checkUsable(keyARN: key.arn)
        guard key.usage == .encryptDecrypt else {
            throw KMSError(.invalidKeyUsage, "\(key.arn) key usage is \(key.usage.rawValue) which is not valid for this operation.")
        }
        guard key.spec == .symmetricDefault else {
            throw KMSError(.unsupportedOperation, "\(key.arn) is an asymmetric key; this operation needs a symmetric one.")
        }
        if let algorithm, algorithm != EncryptionAlgorithm.symmetricDefault.rawValue {
            throw KMSError(.invalidKeyUsage, "The encryption algorithm \(algorithm) is not valid for \(key.arn).")
        }
    }

    static func dryRun(_ requested: Bool) throws(KMSError) {
        if requested {
            throw KMSError(.dryRunOperation, "The request would have succeeded, but the DryRun option is set.")
        }
    }
}
