import Foundation

/// The checks a proxy makes on a decoded request before it does anything with it, and a
/// client on what it is about to send. Every failure is a ValidationException naming the field.
extension XKSRequestMetadata {
    /// Version 1's required fields for `operation`, and lengths no honest caller exceeds.
    public func validate(for operation: XKSOperation) throws(XKSError) {
        try Self.check("kmsOperation", self.kmsOperation, required: true)
        try Self.check("kmsRequestId", self.kmsRequestId, required: true)
        if operation != .getHealthStatus {
            guard let principal = self.awsPrincipalArn, !principal.isEmpty else {
                throw XKSError(.validation, "requestMetadata.awsPrincipalArn is required.")
            }
            try Self.check("awsPrincipalArn", principal, limit: XKSLimits.maxARNLength)
        }
        if operation == .encrypt || operation == .decrypt {
            guard let key = self.kmsKeyArn, !key.isEmpty else {
                throw XKSError(.validation, "requestMetadata.kmsKeyArn is required.")
            }
            try Self.check("kmsKeyArn", key, limit: XKSLimits.maxARNLength)
        }
        for (name, value) in [
            ("awsSourceVpc", self.awsSourceVpc), ("awsSourceVpce", self.awsSourceVpce),
            ("kmsViaService", self.kmsViaService),
        ] {
            if let value { try Self.check(name, value, required: false) }
        }
    }

    private static func check(
        _ name: String, _ value: String, required: Bool = true, limit: Int = XKSLimits.maxMetadataStringLength
    ) throws(XKSError) {
        if required && value.isEmpty { throw XKSError(.validation, "requestMetadata.\(name) is required.") }
        guard value.utf8.count <= limit else {
            throw XKSError(.validation, "requestMetadata.\(name) is longer than \(limit) bytes.")
        }
    }
}

extension XKSEncryptRequest {
    /// Algorithm names and field sizes; a plaintext beyond what the spec requires is
    /// UnsupportedOperationException, as the spec says for sizes an implementation does not support.
    public func validate() throws(XKSError) {
        try self.requestMetadata.validate(for: .encrypt)
        try XKSValidation.algorithm(self.encryptionAlgorithm)
        if let integrity = self.ciphertextDataIntegrityValueAlgorithm, integrity != XKSLimits.integrityAlgorithm {
            throw XKSError(
                .validation,
                "ciphertextDataIntegrityValueAlgorithm must be \(XKSLimits.integrityAlgorithm), not "
                    + "'\(XKSValidation.echo(integrity))'.")
        }
        try XKSValidation.data(plaintext.count, "plaintext", max: XKSLimits.maxPlaintextBytes)
        try XKSValidation.data(
            self.additionalAuthenticatedData?.count ?? 0, "additionalAuthenticatedData", max: XKSLimits.maxAADBytes)
    }
}

extension XKSDecryptRequest {
    /// Algorithm name and field sizes (IV 12 or 16 bytes, tag 16, metadata at most 20).
    public func validate() throws(XKSError) {
        try self.requestMetadata.validate(for: .decrypt)
        try XKSValidation.algorithm(self.encryptionAlgorithm)
        try XKSValidation.data(self.ciphertext.count, "ciphertext", max: XKSLimits.maxPlaintextBytes)
        try XKSValidation.data(
            self.additionalAuthenticatedData?.count ?? 0, "additionalAuthenticatedData", max: XKSLimits.maxAADBytes)
        guard (self.ciphertextMetadata?.count ?? 0) <= XKSLimits.maxCiphertextMetadataBytes else {
            throw XKSError(.validation, "ciphertextMetadata is longer than 20 bytes.")
        }
        guard XKSLimits.ivSizes.contains(self.initializationVector.count) else {
            throw XKSError(.validation, "initializationVector must be 12 or 16 bytes.")
        }
        guard self.authenticationTag.count == XKSLimits.tagBytes else {
            throw XKSError(.validation, "authenticationTag must be 16 bytes.")
        }
    }
}

extension XKSEncryptResponse {
    /// What a client checks before it trusts an answer: sizes, and the CDIV when it asked for one.
    public func validate(for request: XKSEncryptRequest) throws(XKSClientError) {
        guard self.ciphertext.count == request.plaintext.count else {
            throw .invalidResponse("the ciphertext is not as long as the plaintext")
        }
        guard XKSLimits.ivSizes.contains(self.initializationVector.count) else {
            throw .invalidResponse("the initialization vector is neither 12 nor 16 bytes")
        }
        guard self.authenticationTag.count == XKSLimits.tagBytes else {
            throw .invalidResponse("the authentication tag is not 16 bytes")
        }
        guard (self.ciphertextMetadata?.count ?? 0) <= XKSLimits.maxCiphertextMetadataBytes else {
            throw .invalidResponse("ciphertextMetadata is longer than 20 bytes")
        }
        if request.ciphertextDataIntegrityValueAlgorithm != nil {
            let expected = XKSIntegrity.value(
                additionalAuthenticatedData: request.additionalAuthenticatedData, response: self)
            guard let value = self.ciphertextDataIntegrityValue, value == expected else {
                throw .invalidResponse("the ciphertextDataIntegrityValue is missing or does not match")
            }
        }
    }
}

extension XKSGetKeyMetadataResponse {
    /// At most ten usages, and the status one of the two the spec names.
    public func validate() throws(XKSClientError) {
        guard self.keyUsage.count <= 10 else { throw .invalidResponse("more than ten keyUsage values") }
        guard self.keyStatus == "ENABLED" || self.keyStatus == "DISABLED" else {
            throw .invalidResponse("keyStatus is neither ENABLED nor DISABLED")
        }
    }
}

extension XKSGetHealthStatusResponse {
    /// A fleet of at least one proxy and one to ten key managers of known statuses.
    public func validate() throws(XKSClientError) {
        guard self.xksProxyFleetSize > 0 else { throw .invalidResponse("xksProxyFleetSize is not above zero") }
        guard (1...10).contains(self.ekmFleetDetails.count) else {
            throw .invalidResponse("ekmFleetDetails has not between one and ten entries")
        }
        let known: Set<String> = ["ACTIVE", "DEGRADED", "UNAVAILABLE"]
        guard self.ekmFleetDetails.allSatisfy({ known.contains($0.healthStatus) }) else {
            throw .invalidResponse("an ekmFleetDetails healthStatus is not ACTIVE, DEGRADED or UNAVAILABLE")
        }
    }
}

/// The checks the request types share.
enum XKSValidation {
    static func algorithm(_ name: String) throws(XKSError) {
        guard name == XKSLimits.encryptionAlgorithm else {
            throw XKSError(
                .validation, "encryptionAlgorithm must be \(XKSLimits.encryptionAlgorithm), not '\(echo(name))'.")
        }
    }

    static func data(_ count: Int, _ name: String, max: Int) throws(XKSError) {
        guard count <= max else {
            throw XKSError(.unsupportedOperation, "\(name) is longer than the \(max) bytes this proxy supports.")
        }
    }

    /// A client's string in a message: short, and printable ASCII by XKSError's own filter.
    static func echo(_ text: String) -> String {
        text.count > 64 ? String(text.prefix(64)) + "..." : text
    }
}
