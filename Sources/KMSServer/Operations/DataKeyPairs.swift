import Foundation
import KMSDomain
import KMSProto
import KMSWorkerProto

extension KMSService {
    func generateDataKeyPair(_ request: KMSGenerateDataKeyPairRequest, caller: Caller) async throws(KMSError)
        -> KMSGenerateDataKeyPairResponse
    {
        if request.hasRecipient {
            throw KMSError(.unsupportedOperation, "Recipient (attested decryption) is not supported.")
        }
        let (pair, key) = try await self.dataKeyPair(request, caller: caller)
        var response = KMSGenerateDataKeyPairResponse()
        response.privateKeyCiphertextBlob = pair.privateKeyCiphertextBlob
        response.privateKeyPlaintext = pair.privateKeyPlaintext
        response.publicKey = pair.publicKey
        response.keyID = key.record.arn
        response.keyPairSpec = request.keyPairSpec
        response.keyMaterialID = key.record.currentMaterialID?.hex ?? ""
        self.recordUse(of: key, by: caller)
        return response
    }

    func generateDataKeyPairWithoutPlaintext(
        _ request: KMSGenerateDataKeyPairWithoutPlaintextRequest, caller: Caller
    ) async throws(KMSError) -> KMSGenerateDataKeyPairWithoutPlaintextResponse {
        let (pair, key) = try await self.dataKeyPair(request, caller: caller)
        var response = KMSGenerateDataKeyPairWithoutPlaintextResponse()
        response.privateKeyCiphertextBlob = pair.privateKeyCiphertextBlob
        response.publicKey = pair.publicKey
        response.keyID = key.record.arn
        response.keyPairSpec = request.keyPairSpec
        response.keyMaterialID = key.record.currentMaterialID?.hex ?? ""
        self.recordUse(of: key, by: caller)
        return response
    }

    /// A new key pair from kms-cryptod, its private key encrypted under the request's symmetric KMS
    /// key (and in plaintext too when the request type returns it), and the key.
    private func dataKeyPair<Request: DataKeyPairRequest>(_ request: Request, caller: Caller)
        async throws(KMSError) -> (pair: WorkerGenerateDataKeyPairResponse, key: KeyInUse<Void>)
    {
        let name = request.keyPairSpec.awsName
        guard let spec = DataKeyPairSpec(rawValue: name) else {
            throw .validation(
                "1 validation error detected: Value '\(name)' at 'keyPairSpec' failed to satisfy constraint: Member "
                    + "must satisfy enum value set: "
                    + "[\(DataKeyPairSpec.allCases.map(\.rawValue).joined(separator: ", "))]"
            )
        }
        guard spec.keySpec.isSupported else {
            throw KMSError(.unsupportedOperation, "KeyPairSpec \(spec.rawValue) is not supported by this service.")
        }
        let key = try await self.openKey(
            Request.use, named: request.keyID, caller: caller, grantTokens: request.grantTokens,
            encryptionContext: request.encryptionContext, conditions: ["kms:DataKeyPairSpec": [spec.rawValue]],
            dryRun: request.dryRun
        ) { record throws(KMSError) in
            try Validation.symmetricEncryption(record, algorithm: nil, operation: Request.use.rawValue, now: self.now())
            // As at AWS: the private key would be sealed outside kms-cryptod's own material.
            if record.inCustomKeyStore {
                throw KMSError(
                    .unsupportedOperation,
                    "\(record.arn) is in a custom key store: \(Request.use.rawValue) needs a KMS key that is not.")
            }
        }
        var call = WorkerGenerateDataKeyPairRequest()
        call.key = key.workerKey
        call.keyPairSpec = WorkerDataKeyPairSpec(spec)
        call.encryptionContext = request.encryptionContext
        call.includePlaintext = Request.returnsPlaintext
        return (try await self.worker.call(WorkerMethod.generateDataKeyPair, call), key)
    }

    func deriveSharedSecret(_ request: KMSDeriveSharedSecretRequest, caller: Caller) async throws(KMSError)
        -> KMSDeriveSharedSecretResponse
    {
        if request.hasRecipient {
            throw KMSError(.unsupportedOperation, "Recipient (attested decryption) is not supported.")
        }
        let algorithmName = request.keyAgreementAlgorithm.awsName
        let key = try await self.openKey(
            .deriveSharedSecret, named: request.keyID, caller: caller, grantTokens: request.grantTokens,
            conditions: ["kms:KeyAgreementAlgorithm": [algorithmName]], dryRun: request.dryRun
        ) { record throws(KMSError) in
            try Validation.usable(record, now: self.now())
            try Validation.usage(record, .keyAgreement, operation: "DeriveSharedSecret")
            guard let algorithm = KeyAgreementAlgorithm(rawValue: algorithmName),
                record.keyAgreementAlgorithms.contains(algorithm)
            else {
                throw KMSError(
                    .invalidKeyUsage,
                    "The key agreement algorithm \(algorithmName.isEmpty ? "(none)" : algorithmName) is not valid for "
                        + "\(record.arn); it supports ECDH."
                )
            }
        }
        var call = WorkerDeriveSharedSecretRequest()
        call.key = key.workerKey
        call.publicKey = request.publicKey
        var response = KMSDeriveSharedSecretResponse()
        response.sharedSecret = try await self.worker.call(WorkerMethod.deriveSharedSecret, call).sharedSecret
        response.keyID = key.record.arn
        response.keyAgreementAlgorithm = request.keyAgreementAlgorithm
        response.keyOrigin = KMSOrigin(awsName: key.record.origin.rawValue) ?? .unspecified
        self.recordUse(of: key, by: caller)
        return response
    }
}
