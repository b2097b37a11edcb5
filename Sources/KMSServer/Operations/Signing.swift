import Foundation
import KMSDomain
import KMSProto
import KMSWorkerProto

extension KMSService {
    func sign(_ request: KMSSignRequest, caller: Caller) async throws(KMSError) -> KMSSignResponse {
        let algorithmName = request.signingAlgorithm.awsName
        let typeName = request.hasMessageType ? request.messageType.awsName : nil
        let key = try await self.freshen(
            try await self.resolve(request.keyID, for: caller), grantTokens: request.grantTokens)
        try self.gate.authorize(
            caller, action: "Sign", key: key, conditions: Self.signingConditions(algorithmName, typeName))
        let (algorithm, type) = try Validation.signing(
            key.record, algorithm: algorithmName, messageType: typeName, message: request.message.count, now: self.now()
        )
        try Validation.dryRun(request.dryRun)
        var call = WorkerSignRequest()
        call.key = WorkerKeyRef(key, material: try self.currentMaterial(of: key))
        call.message = request.message
        call.messageType = type.rawValue
        call.signingAlgorithm = algorithm.rawValue
        var response = KMSSignResponse()
        response.signature = try await self.worker.call(WorkerMethod.sign, call).signature
        response.keyID = key.record.arn
        response.signingAlgorithm = request.signingAlgorithm
        self.lastUsage.record(keyID: key.record.keyID, operation: "Sign", requestID: caller.requestID)
        return response
    }

    func verify(_ request: KMSVerifyRequest, caller: Caller) async throws(KMSError) -> KMSVerifyResponse {
        let algorithmName = request.signingAlgorithm.awsName
        let typeName = request.hasMessageType ? request.messageType.awsName : nil
        let key = try await self.freshen(
            try await self.resolve(request.keyID, for: caller), grantTokens: request.grantTokens)
        try self.gate.authorize(
            caller, action: "Verify", key: key, conditions: Self.signingConditions(algorithmName, typeName))
        let (algorithm, type) = try Validation.signing(
            key.record, algorithm: algorithmName, messageType: typeName, message: request.message.count, now: self.now()
        )
        try Validation.dryRun(request.dryRun)
        var call = WorkerVerifyRequest()
        call.key = WorkerKeyRef(key, material: try self.currentMaterial(of: key))
        call.message = request.message
        call.messageType = type.rawValue
        call.signingAlgorithm = algorithm.rawValue
        call.signature = request.signature
        let valid = try await self.worker.call(WorkerMethod.verify, call).signatureValid
        self.lastUsage.record(keyID: key.record.keyID, operation: "Verify", requestID: caller.requestID)
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
        let key = try await self.freshen(
            try await self.resolve(request.keyID, for: caller), grantTokens: request.grantTokens)
        try self.gate.authorize(caller, action: "GetPublicKey", key: key)
        let record = key.record
        guard record.spec.isAsymmetric else {
            throw KMSError(.unsupportedOperation, "\(record.arn) is not an asymmetric key; it has no public key.")
        }
        try Validation.usable(record, now: self.now())
        var call = WorkerGetPublicKeyRequest()
        call.key = WorkerKeyRef(key, material: try self.currentMaterial(of: key))
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

    /// kms:SigningAlgorithm and kms:MessageType as the request names them.
    static func signingConditions(_ algorithm: String, _ messageType: String?) -> [String: [String]] {
        ["kms:SigningAlgorithm": [algorithm], "kms:MessageType": [messageType ?? MessageType.raw.rawValue]]
    }
}
