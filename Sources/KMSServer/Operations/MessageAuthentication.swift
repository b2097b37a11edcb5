import Foundation
import KMSDomain
import KMSProto
import KMSWorkerProto

extension KMSService {
    func generateMac(_ request: KMSGenerateMacRequest, caller: Caller) async throws(KMSError) -> KMSGenerateMacResponse
    {
        let algorithmName = request.macAlgorithm.awsName
        let key = try await self.freshen(
            try await self.resolve(request.keyID, for: caller), grantTokens: request.grantTokens)
        try self.gate.authorize(
            caller, action: "GenerateMac", key: key, conditions: ["kms:MacAlgorithm": [algorithmName]])
        let algorithm = try Validation.mac(
            key.record, algorithm: algorithmName, message: request.message.count, now: self.now())
        try Validation.dryRun(request.dryRun)
        var call = WorkerGenerateMacRequest()
        call.key = WorkerKeyRef(key, material: try self.currentMaterial(of: key))
        call.message = request.message
        call.macAlgorithm = algorithm.rawValue
        var response = KMSGenerateMacResponse()
        response.mac = try await self.worker.call(WorkerMethod.generateMac, call).mac
        response.macAlgorithm = request.macAlgorithm
        response.keyID = key.record.arn
        self.lastUsage.record(keyID: key.record.keyID, operation: "GenerateMac", requestID: caller.requestID)
        return response
    }

    func verifyMac(_ request: KMSVerifyMacRequest, caller: Caller) async throws(KMSError) -> KMSVerifyMacResponse {
        let algorithmName = request.macAlgorithm.awsName
        let key = try await self.freshen(
            try await self.resolve(request.keyID, for: caller), grantTokens: request.grantTokens)
        try self.gate.authorize(
            caller, action: "VerifyMac", key: key, conditions: ["kms:MacAlgorithm": [algorithmName]])
        let algorithm = try Validation.mac(
            key.record, algorithm: algorithmName, message: request.message.count, now: self.now())
        try Validation.dryRun(request.dryRun)
        var call = WorkerVerifyMacRequest()
        call.key = WorkerKeyRef(key, material: try self.currentMaterial(of: key))
        call.message = request.message
        call.macAlgorithm = algorithm.rawValue
        call.mac = request.mac
        let valid = try await self.worker.call(WorkerMethod.verifyMac, call).macValid
        self.lastUsage.record(keyID: key.record.keyID, operation: "VerifyMac", requestID: caller.requestID)
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
