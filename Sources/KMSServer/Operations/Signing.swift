import Foundation
import KMSDomain
import KMSProto
import KMSWorkerProto

extension KMSService {
    func sign(_ request: KMSSignRequest, caller: Caller) async throws(KMSError) -> KMSSignResponse {
        let key = try await self.openSigningKey(
            .sign, keyID: request.keyID, algorithm: request.signingAlgorithm,
            messageType: request.hasMessageType ? request.messageType : nil, message: request.message.count,
            grantTokens: request.grantTokens, dryRun: request.dryRun, caller: caller)
        let (algorithm, type) = key.checked
        var call = WorkerSignRequest()
        call.key = key.workerKey
        call.message = request.message
        call.messageType = WorkerMessageType(type)
        call.signingAlgorithm = WorkerSigningAlgorithm(algorithm)
        var response = KMSSignResponse()
        self.auditAhead(caller)
        response.signature = try await self.worker.call(WorkerMethod.sign, call).signature
        response.keyID = key.record.arn
        response.signingAlgorithm = request.signingAlgorithm
        self.recordUse(of: key, by: caller)
        return response
    }

    func verify(_ request: KMSVerifyRequest, caller: Caller) async throws(KMSError) -> KMSVerifyResponse {
        let key = try await self.openSigningKey(
            .verify, keyID: request.keyID, algorithm: request.signingAlgorithm,
            messageType: request.hasMessageType ? request.messageType : nil, message: request.message.count,
            grantTokens: request.grantTokens, dryRun: request.dryRun, caller: caller)
        let (algorithm, type) = key.checked
        var call = WorkerVerifyRequest()
        call.key = key.workerKey
        call.message = request.message
        call.messageType = WorkerMessageType(type)
        call.signingAlgorithm = WorkerSigningAlgorithm(algorithm)
        call.signature = request.signature
        let valid = try await self.worker.call(WorkerMethod.verify, call).signatureValid
        self.recordUse(of: key, by: caller)
        // AWS answers an invalid signature with an exception, not SignatureValid=false.
        guard valid else {
            throw KMSError(
                .invalidSignature, "The signature does not verify with \(key.record.arn) and \(algorithm.rawValue).")
        }
        var response = KMSVerifyResponse()
        response.keyID = key.record.arn
        response.signatureValid = true
        response.signingAlgorithm = request.signingAlgorithm
        return response
    }

    func getPublicKey(_ request: KMSGetPublicKeyRequest, caller: Caller) async throws(KMSError)
        -> KMSGetPublicKeyResponse
    {
        // GetPublicKey has no DryRun, and reads no secret: it is no use for GetKeyLastUsage.
        let key = try await self.openKey(
            .getPublicKey, named: request.keyID, caller: caller, grantTokens: request.grantTokens, dryRun: false
        ) { record throws(KMSError) in
            guard record.spec.isAsymmetric else {
                throw KMSError(.unsupportedOperation, "\(record.arn) is not an asymmetric key; it has no public key.")
            }
            try Validation.usable(record, now: self.now())
        }
        let record = key.record
        var call = WorkerGetPublicKeyRequest()
        call.key = key.workerKey
        var response = KMSGetPublicKeyResponse()
        response.publicKey = try await self.worker.call(WorkerMethod.getPublicKey, call).publicKey
        // The same fields as DescribeKey's, from the one mapping.
        let metadata = KMSKeyMetadata(record)
        response.keyID = metadata.arn
        response.keySpec = metadata.keySpec
        response.customerMasterKeySpec = metadata.customerMasterKeySpec
        response.keyUsage = metadata.keyUsage
        response.encryptionAlgorithms = metadata.encryptionAlgorithms
        response.signingAlgorithms = metadata.signingAlgorithms
        response.keyAgreementAlgorithms = metadata.keyAgreementAlgorithms
        return response
    }

    /// Sign's and Verify's shared opening: the key, checked for the algorithm and message type
    /// the caller named (both also conditions of the policy), and the message's size.
    func openSigningKey(
        _ use: KeyUse, keyID: String, algorithm: KMSSigningAlgorithmSpec, messageType: KMSMessageType?,
        message: Int, grantTokens: [String], dryRun: Bool, caller: Caller
    ) async throws(KMSError) -> KeyInUse<(SigningAlgorithm, MessageType)> {
        let algorithmName = algorithm.awsName
        let typeName = messageType?.awsName
        return try await self.openKey(
            use, named: keyID, caller: caller, grantTokens: grantTokens,
            conditions: Self.signingConditions(algorithmName, typeName), dryRun: dryRun
        ) { record throws(KMSError) in
            try Validation.signing(
                record, algorithm: algorithmName, messageType: typeName, message: message, operation: use.rawValue,
                now: self.now())
        }
    }

    /// kms:SigningAlgorithm and kms:MessageType as the request names them.
    static func signingConditions(_ algorithm: String, _ messageType: String?) -> [String: [String]] {
        ["kms:SigningAlgorithm": [algorithm], "kms:MessageType": [messageType ?? MessageType.raw.rawValue]]
    }
}
