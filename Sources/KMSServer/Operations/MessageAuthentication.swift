import Foundation
import KMSDomain
import KMSProto
import KMSWorkerProto

extension KMSService {
    func generateMac(_ request: KMSGenerateMacRequest, caller: Caller) async throws(KMSError) -> KMSGenerateMacResponse
    {
        let algorithmName = request.macAlgorithm.awsName
        let key = try await self.openKey(
            .generateMac, named: request.keyID, caller: caller, grantTokens: request.grantTokens,
            conditions: ["kms:MacAlgorithm": [algorithmName]], dryRun: request.dryRun
        ) { record throws(KMSError) in
            try Validation.mac(
                record, algorithm: algorithmName, message: request.message.count, operation: "GenerateMac",
                now: self.now())
        }
        let algorithm = key.checked
        var call = WorkerGenerateMacRequest()
        call.key = key.workerKey
        call.message = request.message
        call.macAlgorithm = WorkerMacAlgorithm(algorithm)
        var response = KMSGenerateMacResponse()
        self.auditAhead(caller)
        response.mac = try await self.worker.call(WorkerMethod.generateMac, call).mac
        response.macAlgorithm = request.macAlgorithm
        response.keyID = key.record.arn
        self.recordUse(of: key, by: caller)
        return response
    }

    func verifyMac(_ request: KMSVerifyMacRequest, caller: Caller) async throws(KMSError) -> KMSVerifyMacResponse {
        let algorithmName = request.macAlgorithm.awsName
        let key = try await self.openKey(
            .verifyMac, named: request.keyID, caller: caller, grantTokens: request.grantTokens,
            conditions: ["kms:MacAlgorithm": [algorithmName]], dryRun: request.dryRun
        ) { record throws(KMSError) in
            try Validation.mac(
                record, algorithm: algorithmName, message: request.message.count, operation: "VerifyMac",
                now: self.now())
        }
        let algorithm = key.checked
        var call = WorkerVerifyMacRequest()
        call.key = key.workerKey
        call.message = request.message
        call.macAlgorithm = WorkerMacAlgorithm(algorithm)
        call.mac = request.mac
        let valid = try await self.worker.call(WorkerMethod.verifyMac, call).macValid
        self.recordUse(of: key, by: caller)
        guard valid else {
            throw KMSError(.invalidMac, "The MAC does not verify with \(key.record.arn) and \(algorithm.rawValue).")
        }
        var response = KMSVerifyMacResponse()
        response.keyID = key.record.arn
        response.macValid = true
        response.macAlgorithm = request.macAlgorithm
        return response
    }
}
