import KMSDomain
import KMSProto

/// Size and shape checks that run at the edge: before the caller is resolved, before any key
/// is looked up or authorized, before anything is written (an audit record included). A
/// request that fails them costs its sender a ValidationException and nobody anything else:
/// in particular a refused caller cannot make the audit log store a 60 KB encryption context.
/// The handlers check only what needs the key (algorithm lengths, key usage); these are the
/// bounds that hold whatever the key, checked here and nowhere else.
protocol EdgeChecked {
    func checkAtEdge() throws(KMSError)
}

enum Edge {
    static func encryptionContext(_ context: [String: String], field: String = "encryptionContext") throws(KMSError) {
        guard !context.isEmpty else { return }
        var total = 0
        for (key, value) in context {
            guard !key.isEmpty else {
                throw .validation(
                    "1 validation error detected: Value at '\(field)' failed to satisfy constraint: Map keys must "
                        + "have length greater than or equal to 1"
                )
            }
            total += key.utf8.count + value.utf8.count
        }
        guard total <= Limits.encryptionContextBytes else {
            throw .validation(
                "1 validation error detected: Value at '\(field)' failed to satisfy constraint: the encryption "
                    + "context is \(total) bytes; at most \(Limits.encryptionContextBytes) are allowed"
            )
        }
    }

    /// 1...2048 bytes; the message names the bound broken, as AWS's does.
    static func keyID(_ text: String, field: String = "keyId") throws(KMSError) {
        try Limits.check(text.utf8.count, in: 1...2048, field: field)
    }

    static func optionalKeyID(_ text: String, present: Bool, field: String) throws(KMSError) {
        if present { try keyID(text, field: field) }
    }

    static func blob(_ count: Int, _ range: ClosedRange<Int>, field: String) throws(KMSError) {
        try Limits.check(count, in: range, field: field)
    }
}

extension KMSEncryptRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.blob(self.plaintext.count, Limits.plaintextBytes, field: "plaintext")
        try Edge.encryptionContext(self.encryptionContext)
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSDecryptRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.optionalKeyID(self.keyID, present: self.hasKeyID, field: "keyId")
        try Edge.blob(self.ciphertextBlob.count, Limits.ciphertextBlobBytes, field: "ciphertextBlob")
        try Edge.encryptionContext(self.encryptionContext)
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSReEncryptRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.optionalKeyID(self.sourceKeyID, present: self.hasSourceKeyID, field: "sourceKeyId")
        try Edge.keyID(self.destinationKeyID, field: "destinationKeyId")
        try Edge.blob(self.ciphertextBlob.count, Limits.ciphertextBlobBytes, field: "ciphertextBlob")
        try Edge.encryptionContext(self.sourceEncryptionContext, field: "sourceEncryptionContext")
        try Edge.encryptionContext(self.destinationEncryptionContext, field: "destinationEncryptionContext")
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSGenerateDataKeyRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.encryptionContext(self.encryptionContext)
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSGenerateDataKeyWithoutPlaintextRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.encryptionContext(self.encryptionContext)
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSGenerateDataKeyPairRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.encryptionContext(self.encryptionContext)
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSGenerateDataKeyPairWithoutPlaintextRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.encryptionContext(self.encryptionContext)
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSCreateGrantRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.encryptionContext(
            self.constraints.encryptionContextEquals, field: "constraints.encryptionContextEquals")
        try Edge.encryptionContext(
            self.constraints.encryptionContextSubset, field: "constraints.encryptionContextSubset")
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSSignRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.blob(self.message.count, Limits.plaintextBytes, field: "message")
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSVerifyRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.blob(self.message.count, Limits.plaintextBytes, field: "message")
        try Edge.blob(self.signature.count, Limits.ciphertextBlobBytes, field: "signature")
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSGenerateMacRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.blob(self.message.count, Limits.plaintextBytes, field: "message")
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSVerifyMacRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.blob(self.message.count, Limits.plaintextBytes, field: "message")
        try Edge.blob(self.mac.count, Limits.ciphertextBlobBytes, field: "mac")
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSDescribeKeyRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSGetPublicKeyRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSDeriveSharedSecretRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.blob(self.publicKey.count, 1...8192, field: "publicKey")
        try Validation.grantTokens(self.grantTokens)
    }
}

extension KMSCreateKeyRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        if self.hasPolicy { try Edge.blob(self.policy.utf8.count, 1...32768, field: "policy") }
        if self.hasDescription_p { try Validation.description(self.description_p) }
    }
}

extension KMSPutKeyPolicyRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.blob(self.policy.utf8.count, 1...32768, field: "policy")
    }
}

extension KMSUpdateKeyDescriptionRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Validation.description(self.description_p)
    }
}
