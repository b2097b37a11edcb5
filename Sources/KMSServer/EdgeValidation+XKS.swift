import KMSDomain
import KMSProto
import KMSXKS

/// The XKS backend's sizes, those of the XKS proxy API (kms-xks-proxy has checked them too:
/// these hold for any other caller of the rpcs).
extension Edge {
    static func xksMetadata(_ metadata: XKSBackendXksRequestMetadata) throws(KMSError) {
        for (field, value) in [
            ("awsPrincipalArn", metadata.awsPrincipalArn), ("kmsKeyArn", metadata.kmsKeyArn),
            ("kmsOperation", metadata.kmsOperation), ("kmsRequestId", metadata.kmsRequestID),
            ("kmsViaService", metadata.kmsViaService), ("awsSourceVpc", metadata.awsSourceVpc),
            ("awsSourceVpce", metadata.awsSourceVpce), ("xksAccessKeyId", metadata.xksAccessKeyID),
        ] {
            try Limits.check(value.utf8.count, in: 0...XKSLimits.maxARNLength, field: "requestMetadata.\(field)")
        }
    }

    static func xksAAD(_ count: Int) throws(KMSError) {
        try Limits.check(count, in: 0...XKSLimits.maxAADBytes, field: "additionalAuthenticatedData")
    }
}

extension XKSBackendXksGetKeyMetadataRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.xksMetadata(self.requestMetadata)
    }
}

extension XKSBackendXksEncryptRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.blob(self.plaintext.count, 0...XKSLimits.maxPlaintextBytes, field: "plaintext")
        try Edge.xksAAD(self.additionalAuthenticatedData.count)
        try Edge.xksMetadata(self.requestMetadata)
    }
}

extension XKSBackendXksDecryptRequest: EdgeChecked {
    func checkAtEdge() throws(KMSError) {
        try Edge.keyID(self.keyID)
        try Edge.blob(self.ciphertext.count, 0...XKSLimits.maxPlaintextBytes, field: "ciphertext")
        try Edge.blob(self.initializationVector.count, 12...16, field: "initializationVector")
        try Edge.blob(self.authenticationTag.count, 16...16, field: "authenticationTag")
        try Edge.blob(
            self.ciphertextMetadata.count, 0...XKSLimits.maxCiphertextMetadataBytes, field: "ciphertextMetadata")
        try Edge.xksAAD(self.additionalAuthenticatedData.count)
        try Edge.xksMetadata(self.requestMetadata)
    }
}
