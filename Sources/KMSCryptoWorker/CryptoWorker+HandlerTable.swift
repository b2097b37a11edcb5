import KMSDomain
import KMSRPC
import KMSWorkerProto

extension CryptoWorker {
    /// The worker's dispatch table: one entry per rpc of `proto/kms/worker/v1/worker.proto`.
    public func handlerTable() -> RPCHandlerTable {
        var table = RPCHandlerTable()
        table.register(WorkerMethod.describe) { request, _ in self.describe(request) }
        table.register(WorkerMethod.generateKeyMaterial) { request, _ in try await self.generateKeyMaterial(request) }
        table.register(WorkerMethod.rewrapKeyMaterial) { request, _ in try self.rewrapKeyMaterial(request) }
        table.register(WorkerMethod.encrypt) { request, _ in try await self.encrypt(request) }
        table.register(WorkerMethod.decrypt) { request, _ in try await self.decrypt(request) }
        table.register(WorkerMethod.reEncrypt) { request, _ in try await self.reEncrypt(request) }
        table.register(WorkerMethod.generateDataKey) { request, _ in try self.generateDataKey(request) }
        table.register(WorkerMethod.generateRandom) { request, _ in try self.generateRandom(request) }
        table.register(WorkerMethod.createAccessKeySecret) { request, _ in try self.createAccessKeySecret(request) }
        table.register(WorkerMethod.verifyAccessKeyProof) { request, _ in try self.verifyAccessKeyProof(request) }
        table.register(WorkerMethod.deriveSigningKey) { request, _ in try self.deriveSigningKey(request) }
        table.register(WorkerMethod.rewrapAccessKeySecret) { request, _ in try self.rewrapAccessKeySecret(request) }
        table.register(WorkerMethod.sign) { request, _ in try await self.sign(request) }
        table.register(WorkerMethod.verify) { request, _ in try self.verify(request) }
        table.register(WorkerMethod.getPublicKey) { request, _ in try self.getPublicKey(request) }
        table.register(WorkerMethod.generateMac) { request, _ in try self.generateMac(request) }
        table.register(WorkerMethod.verifyMac) { request, _ in try self.verifyMac(request) }
        table.register(WorkerMethod.generateDataKeyPair) { request, _ in try await self.generateDataKeyPair(request) }
        table.register(WorkerMethod.deriveSharedSecret) { request, _ in try self.deriveSharedSecret(request) }
        table.register(WorkerMethod.getParametersForImport) { request, _ in
            try await self.getParametersForImport(request)
        }
        table.register(WorkerMethod.importKeyMaterial) { request, _ in try await self.importKeyMaterial(request) }
        table.register(WorkerMethod.macAuditCheckpoint) { request, _ in try self.macAuditCheckpoint(request) }
        table.register(WorkerMethod.verifyAuditCheckpoints) { request, _ in try self.verifyAuditCheckpoints(request) }
        table.register(WorkerMethod.getTransportKey) { request, _ in self.getTransportKey(request) }
        table.register(WorkerMethod.sealMaterialForPeer) { request, _ in try self.sealMaterialForPeer(request) }
        table.register(WorkerMethod.openMaterialFromPeer) { request, _ in try self.openMaterialFromPeer(request) }
        table.register(WorkerMethod.rawAesGcmEncrypt) { request, _ in try self.rawAesGcmEncrypt(request) }
        table.register(WorkerMethod.rawAesGcmDecrypt) { request, _ in try self.rawAesGcmDecrypt(request) }
        table.register(WorkerMethod.unwrapXksProxySecret) { request, _ in try self.unwrapXksProxySecret(request) }
        table.register(WorkerMethod.wrapTokenPin) { request, _ in try self.wrapTokenPin(request) }
        table.register(WorkerMethod.rewrapTokenPin) { request, _ in try self.rewrapTokenPin(request) }
        table.register(WorkerMethod.connectToken) { request, _ in try await self.connectToken(request) }
        table.register(WorkerMethod.checkToken) { request, _ in try await self.checkToken(request) }
        table.register(WorkerMethod.disconnectToken) { request, _ in try self.disconnectToken(request) }
        table.register(WorkerMethod.createTokenKey) { request, _ in try await self.createTokenKey(request) }
        table.register(WorkerMethod.tokenEncrypt) { request, _ in try await self.tokenEncrypt(request) }
        table.register(WorkerMethod.tokenDecrypt) { request, _ in try await self.tokenDecrypt(request) }
        table.register(WorkerMethod.tokenGenerateDataKey) { request, _ in try await self.tokenGenerateDataKey(request) }
        table.register(WorkerMethod.tokenGenerateRandom) { request, _ in try await self.tokenGenerateRandom(request) }
        table.register(WorkerMethod.destroyTokenKey) { request, _ in try await self.destroyTokenKey(request) }
        return table
    }
}
