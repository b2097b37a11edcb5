import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSRPC
import KMSWorkerProto

/// Signing, MACs, data key pairs and key agreement. RSA private-key work runs on the heavy
/// pool; EC and HMAC work is microseconds and runs where the request arrived.
extension CryptoWorker {
    /// Signs with the key's private half: RSA and ML-DSA (a millisecond or so, with its rejection
    /// loop) on the heavy pool, EC where the request arrived.
    public func sign(_ request: WorkerSignRequest) throws(KMSError) -> RPCInlineOutcome<WorkerSignResponse> {
        let key = try self.resolve(request.key, field: "key")
        let (algorithm, type) = try Self.signing(
            request.signingAlgorithm, request.messageType, message: request.message.count)
        let privateKey = try key.privateKey()
        let message = [UInt8](request.message)
        return try self.heavy.outcome(pooled: key.spec.isRSA || key.spec.isMLDSA) { () throws(KMSError) in
            var response = WorkerSignResponse()
            response.signature = Data(try privateKey.sign(message, messageType: type, algorithm: algorithm))
            return response
        }
    }

    /// Checks a signature; a mismatch is `signatureValid` false, not an error (kmsd decides what the
    /// caller hears).
    public func verify(_ request: WorkerVerifyRequest) throws(KMSError) -> WorkerVerifyResponse {
        let key = try self.resolve(request.key, field: "key")
        let (algorithm, type) = try Self.signing(
            request.signingAlgorithm, request.messageType, message: request.message.count)
        try Limits.check(request.signature.count, in: Limits.ciphertextBlobBytes, field: "signature")
        var response = WorkerVerifyResponse()
        // RSA verification is a public-key operation: tens of microseconds, fine here.
        response.signatureValid = try key.privateKey().publicKey.verify(
            [UInt8](request.signature), message: [UInt8](request.message), messageType: type, algorithm: algorithm
        )
        return response
    }

    /// The key's public half, DER (SubjectPublicKeyInfo).
    public func getPublicKey(_ request: WorkerGetPublicKeyRequest) throws(KMSError) -> WorkerGetPublicKeyResponse {
        let key = try self.resolve(request.key, field: "key")
        var response = WorkerGetPublicKeyResponse()
        response.publicKey = Data(try key.privateKey().publicKeyDER)
        return response
    }

    /// An HMAC of the message under the key's material; the algorithm must be one the key's spec allows.
    public func generateMac(_ request: WorkerGenerateMacRequest) throws(KMSError) -> WorkerGenerateMacResponse {
        try Limits.check(request.message.count, in: Limits.plaintextBytes, field: "message")
        let key = try self.resolve(request.key, field: "key")
        let algorithm = try Self.mac(request.macAlgorithm, key: key)
        var response = WorkerGenerateMacResponse()
        response.mac = Data(
            MessageAuthentication.mac(algorithm, key: try key.hmac(), message: [UInt8](request.message)))
        return response
    }

    /// Recomputes the HMAC and compares it in constant time; a mismatch is `macValid` false, not an error.
    public func verifyMac(_ request: WorkerVerifyMacRequest) throws(KMSError) -> WorkerVerifyMacResponse {
        try Limits.check(request.message.count, in: Limits.plaintextBytes, field: "message")
        let key = try self.resolve(request.key, field: "key")
        let algorithm = try Self.mac(request.macAlgorithm, key: key)
        var response = WorkerVerifyMacResponse()
        response.macValid = MessageAuthentication.verify(
            algorithm, key: try key.hmac(), message: [UInt8](request.message), mac: [UInt8](request.mac)
        )
        return response
    }

    /// A new key pair; its private key (PKCS#8 DER) sealed under a symmetric KMS key like a
    /// data key, so Decrypt gives it back.
    public func generateDataKeyPair(_ request: WorkerGenerateDataKeyPairRequest) async throws(KMSError)
        -> WorkerGenerateDataKeyPairResponse
    {
        let key = try self.resolve(request.key, field: "key")
        let material = try key.symmetric()
        let pairSpec = try request.keyPairSpec.required("key_pair_spec")
        guard pairSpec.keySpec.isSupported else {
            throw .validation("key_pair_spec \(pairSpec.rawValue) is not a supported DataKeyPairSpec")
        }
        let spec = pairSpec.keySpec
        let pair =
            spec.isRSA
            ? try await self.generation.run { () throws(KMSError) -> PrivateKey in try PrivateKey.generate(spec) }
            : try PrivateKey.generate(spec)
        var response = WorkerGenerateDataKeyPairResponse()
        response.publicKey = Data(pair.publicKeyDER)
        // The DER copy is zeroed when the closure returns; the response's copies go to the caller.
        let sealed = pair.withPKCS8DER { der -> Result<([UInt8], Data?), KMSError> in
            Result { () throws(KMSError) in
                (
                    try SymmetricCiphertext.seal(
                        der, keyID: key.keyID, materialID: key.materialID, material: material,
                        encryptionContext: request.encryptionContext),
                    request.includePlaintext ? Data(der) : nil
                )
            }
        }
        let (blob, plaintext) = try sealed.get()
        response.privateKeyCiphertextBlob = Data(blob)
        if let plaintext { response.privateKeyPlaintext = plaintext }
        return response
    }

    /// ECDH between the key's private half and the peer's public key (DER); the raw shared secret goes
    /// back, for kmsd to return to the caller as AWS does.
    public func deriveSharedSecret(_ request: WorkerDeriveSharedSecretRequest) throws(KMSError)
        -> WorkerDeriveSharedSecretResponse
    {
        try Limits.check(request.publicKey.count, in: 1...8192, field: "publicKey")
        let key = try self.resolve(request.key, field: "key")
        guard key.spec.allowedUsages.contains(.keyAgreement) else {
            throw .invalidKeyUsage("a \(key.spec.rawValue) key cannot derive shared secrets")
        }
        var secret = try key.privateKey().deriveSharedSecret(peerPublicKeyDER: [UInt8](request.publicKey))
        defer { zeroize(&secret) }
        var response = WorkerDeriveSharedSecretResponse()
        response.sharedSecret = Data(secret)
        return response
    }

    static func signing(_ algorithmValue: WorkerSigningAlgorithm, _ typeValue: WorkerMessageType, message: Int)
        throws(KMSError) -> (SigningAlgorithm, MessageType)
    {
        let algorithm = try algorithmValue.required("signing_algorithm")
        let type = try typeValue.required("message_type", unspecified: .raw)
        try Limits.check(message, in: Limits.plaintextBytes, field: "message")
        return (algorithm, type)
    }

    static func mac(_ value: WorkerMacAlgorithm, key: ResolvedKey) throws(KMSError) -> MacAlgorithm {
        let algorithm = try value.required("mac_algorithm")
        guard key.spec.macAlgorithms.contains(algorithm) else {
            throw .invalidKeyUsage(
                "the MAC algorithm \(algorithm.rawValue) is not valid for a \(key.spec.rawValue) key")
        }
        return algorithm
    }
}
