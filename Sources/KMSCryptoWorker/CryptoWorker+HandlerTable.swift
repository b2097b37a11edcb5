import KMSDomain
import KMSRPC
import KMSWorkerProto

extension CryptoWorker {
    /// The worker's dispatch table: one entry per rpc of `proto/kms/worker/v1/worker.proto`.
    /// Handlers that never wait and take microseconds (AES-GCM, HMAC, ECDSA) run inline on the
    /// connection's event loop, where their tasks ran them anyway; those that start inline hand
    /// their RSA and ML-DSA work to the heavy pool as the request's task; those that wait (key
    /// generation, import, a token) or may block in a token's library keep a task each.
    public func handlerTable() -> RPCHandlerTable {
        var table = RPCHandlerTable()
        table.registerInline(WorkerMethod.describe) { request, _ in self.describe(request) }
        table.register(WorkerMethod.generateKeyMaterial) { request, _ in try await self.generateKeyMaterial(request) }
        table.registerInline(WorkerMethod.rewrapKeyMaterial) { request, _ in try self.rewrapKeyMaterial(request) }
        table.registerStartingInline(WorkerMethod.encrypt) { request, _ in try self.encrypt(request) }
        table.registerStartingInline(WorkerMethod.decrypt) { request, _ in try self.decrypt(request) }
        table.registerStartingInline(WorkerMethod.reEncrypt) { request, _ in try self.reEncrypt(request) }
        table.registerInline(WorkerMethod.generateDataKey) { request, _ in try self.generateDataKey(request) }
        table.registerInline(WorkerMethod.generateRandom) { request, _ in try self.generateRandom(request) }
        table.registerInline(WorkerMethod.createAccessKeySecret) { request, _ in
            try self.createAccessKeySecret(request)
        }
        table.registerInline(WorkerMethod.verifyAccessKeyProof) { request, _ in try self.verifyAccessKeyProof(request) }
        table.registerInline(WorkerMethod.deriveSigningKey) { request, _ in try self.deriveSigningKey(request) }
        table.registerInline(WorkerMethod.rewrapAccessKeySecret) { request, _ in
            try self.rewrapAccessKeySecret(request)
        }
        table.registerStartingInline(WorkerMethod.sign) { request, _ in try self.sign(request) }
        table.registerInline(WorkerMethod.verify) { request, _ in try self.verify(request) }
        table.registerInline(WorkerMethod.getPublicKey) { request, _ in try self.getPublicKey(request) }
        table.registerInline(WorkerMethod.generateMac) { request, _ in try self.generateMac(request) }
        table.registerInline(WorkerMethod.verifyMac) { request, _ in try self.verifyMac(request) }
        table.register(WorkerMethod.generateDataKeyPair) { request, _ in try await self.generateDataKeyPair(request) }
        table.registerInline(WorkerMethod.deriveSharedSecret) { request, _ in try self.deriveSharedSecret(request) }
        table.register(WorkerMethod.getParametersForImport) { request, _ in
            try await self.getParametersForImport(request)
        }
        table.register(WorkerMethod.importKeyMaterial) { request, _ in try await self.importKeyMaterial(request) }
        table.registerInline(WorkerMethod.macAuditCheckpoint) { request, _ in try self.macAuditCheckpoint(request) }
        table.registerInline(WorkerMethod.verifyAuditCheckpoints) { request, _ in
            try self.verifyAuditCheckpoints(request)
        }
        table.registerInline(WorkerMethod.getTransportKey) { request, _ in self.getTransportKey(request) }
        table.registerInline(WorkerMethod.sealMaterialForPeer) { request, _ in try self.sealMaterialForPeer(request) }
        table.registerInline(WorkerMethod.openMaterialFromPeer) { request, _ in try self.openMaterialFromPeer(request) }
        table.registerInline(WorkerMethod.rawAesGcmEncrypt) { request, _ in try self.rawAesGcmEncrypt(request) }
        table.registerInline(WorkerMethod.rawAesGcmDecrypt) { request, _ in try self.rawAesGcmDecrypt(request) }
        table.registerInline(WorkerMethod.unwrapXksProxySecret) { request, _ in try self.unwrapXksProxySecret(request) }
        table.registerInline(WorkerMethod.wrapTokenPin) { request, _ in try self.wrapTokenPin(request) }
        table.registerInline(WorkerMethod.rewrapTokenPin) { request, _ in try self.rewrapTokenPin(request) }
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
