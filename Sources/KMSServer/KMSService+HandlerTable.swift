import Foundation
import KMSDomain
import KMSProto
import KMSRPC

extension KMSService {
    /// The binary protocol's dispatch table: one entry per operation. Every rpc of the service
    /// definition is served; one added to the proto before its handler answers
    /// UnsupportedOperationException rather than UnknownOperationException.
    public func handlerTable() -> RPCHandlerTable {
        var table = RPCHandlerTable()
        func serve<Request, Response>(
            _ method: RPCMethod<Request, Response>,
            _ operation: @escaping @Sendable (KMSService) -> (Request, Caller) async throws(KMSError) -> Response
        ) {
            table.register(method) { request, context in
                // Every wait inside the request (a lookup, the worker, its record) gives up by
                // this deadline, so the caller hears kmsd's answer before its own timeout.
                try await RequestDeadline.$current.withValue(
                    ContinuousClock.now + self.requestTimeout(for: method.name)
                ) {
                    // The request's steps run in a function of this module, not in this closure:
                    // the closure is the standard library's (run on the generic executor), and
                    // each of its awaits would hop back there.
                    try await self.handle(method, request, context: context, operation: operation(self))
                }
            }
        }

        serve(KMSMethod.createKey) { $0.createKey }
        serve(KMSMethod.describeKey) { $0.describeKey }
        serve(KMSMethod.listKeys) { $0.listKeys }
        serve(KMSMethod.updateKeyDescription) { $0.updateKeyDescription }
        serve(KMSMethod.enableKey) { $0.enableKey }
        serve(KMSMethod.disableKey) { $0.disableKey }
        serve(KMSMethod.scheduleKeyDeletion) { $0.scheduleKeyDeletion }
        serve(KMSMethod.cancelKeyDeletion) { $0.cancelKeyDeletion }
        serve(KMSMethod.encrypt) { $0.encrypt }
        serve(KMSMethod.decrypt) { $0.decrypt }
        serve(KMSMethod.reEncrypt) { $0.reEncrypt }
        serve(KMSMethod.generateDataKey) { $0.generateDataKey }
        serve(KMSMethod.generateDataKeyWithoutPlaintext) { $0.generateDataKeyWithoutPlaintext }
        serve(KMSMethod.generateRandom) { $0.generateRandom }
        serve(KMSMethod.generateDataKeyPair) { $0.generateDataKeyPair }
        serve(KMSMethod.generateDataKeyPairWithoutPlaintext) { $0.generateDataKeyPairWithoutPlaintext }
        serve(KMSMethod.sign) { $0.sign }
        serve(KMSMethod.verify) { $0.verify }
        serve(KMSMethod.getPublicKey) { $0.getPublicKey }
        serve(KMSMethod.generateMac) { $0.generateMac }
        serve(KMSMethod.verifyMac) { $0.verifyMac }
        serve(KMSMethod.deriveSharedSecret) { $0.deriveSharedSecret }
        serve(KMSMethod.getParametersForImport) { $0.getParametersForImport }
        serve(KMSMethod.importKeyMaterial) { $0.importKeyMaterial }
        serve(KMSMethod.deleteImportedKeyMaterial) { $0.deleteImportedKeyMaterial }
        serve(KMSMethod.createAlias) { $0.createAlias }
        serve(KMSMethod.updateAlias) { $0.updateAlias }
        serve(KMSMethod.deleteAlias) { $0.deleteAlias }
        serve(KMSMethod.listAliases) { $0.listAliases }
        serve(KMSMethod.getKeyPolicy) { $0.getKeyPolicy }
        serve(KMSMethod.putKeyPolicy) { $0.putKeyPolicy }
        serve(KMSMethod.listKeyPolicies) { $0.listKeyPolicies }
        serve(KMSMethod.createGrant) { $0.createGrant }
        serve(KMSMethod.listGrants) { $0.listGrants }
        serve(KMSMethod.listRetirableGrants) { $0.listRetirableGrants }
        serve(KMSMethod.retireGrant) { $0.retireGrant }
        serve(KMSMethod.revokeGrant) { $0.revokeGrant }
        serve(KMSMethod.enableKeyRotation) { $0.enableKeyRotation }
        serve(KMSMethod.disableKeyRotation) { $0.disableKeyRotation }
        serve(KMSMethod.getKeyRotationStatus) { $0.getKeyRotationStatus }
        serve(KMSMethod.rotateKeyOnDemand) { $0.rotateKeyOnDemand }
        serve(KMSMethod.listKeyRotations) { $0.listKeyRotations }
        serve(KMSMethod.getKeyLastUsage) { $0.getKeyLastUsage }
        serve(KMSMethod.tagResource) { $0.tagResource }
        serve(KMSMethod.untagResource) { $0.untagResource }
        serve(KMSMethod.listResourceTags) { $0.listResourceTags }
        serve(KMSMethod.replicateKey) { $0.replicateKey }
        serve(KMSMethod.updatePrimaryRegion) { $0.updatePrimaryRegion }
        serve(KMSMethod.createCustomKeyStore) { $0.createCustomKeyStore }
        serve(KMSMethod.describeCustomKeyStores) { $0.describeCustomKeyStores }
        serve(KMSMethod.updateCustomKeyStore) { $0.updateCustomKeyStore }
        serve(KMSMethod.deleteCustomKeyStore) { $0.deleteCustomKeyStore }
        serve(KMSMethod.connectCustomKeyStore) { $0.connectCustomKeyStore }
        serve(KMSMethod.disconnectCustomKeyStore) { $0.disconnectCustomKeyStore }
        serve(AdminMethod.getCallerIdentity) { $0.getCallerIdentity }
        serve(AdminMethod.createAccount) { $0.createAccount }
        serve(AdminMethod.listAccounts) { $0.listAccounts }
        serve(AdminMethod.createPrincipal) { $0.createPrincipal }
        serve(AdminMethod.listPrincipals) { $0.listPrincipals }
        serve(AdminMethod.deletePrincipal) { $0.deletePrincipal }
        serve(AdminMethod.createAccessKey) { $0.createAccessKey }
        serve(AdminMethod.listAccessKeys) { $0.listAccessKeys }
        serve(AdminMethod.updateAccessKey) { $0.updateAccessKey }
        serve(AdminMethod.deleteAccessKey) { $0.deleteAccessKey }
        serve(AdminMethod.putPrincipalPolicy) { $0.putPrincipalPolicy }
        serve(AdminMethod.getPrincipalPolicy) { $0.getPrincipalPolicy }
        serve(AdminMethod.listPrincipalPolicies) { $0.listPrincipalPolicies }
        serve(AdminMethod.deletePrincipalPolicy) { $0.deletePrincipalPolicy }
        serve(AdminMethod.startRewrap) { $0.startRewrap }
        serve(AdminMethod.getRewrapStatus) { $0.getRewrapStatus }
        serve(AdminMethod.listAuditRecords) { $0.listAuditRecords }
        serve(AdminMethod.verifyAuditLog) { $0.verifyAuditLog }
        serve(AdminMethod.getUsage) { $0.getUsage }
        serve(XKSBackendMethod.xksGetKeyMetadata) { $0.xksGetKeyMetadata }
        serve(XKSBackendMethod.xksEncrypt) { $0.xksEncrypt }
        serve(XKSBackendMethod.xksDecrypt) { $0.xksDecrypt }
        for name in KMSMethod.allNames where !table.methods.contains(name) {
            table.registerUnavailable(
                name,
                error: RPCError(
                    code: KMSError.Code.unsupportedOperation.rawValue, message: "\(name) is not implemented yet"
                ))
        }
        return table
    }
}

extension KMSService {
    /// One request of the binary protocol or the AWS JSON API, from its caller to its record:
    /// admission, the caller's identity, the edge checks, the operation, and the audit record
    /// that must be durable before a success is answered.
    fileprivate func handle<Request, Response>(
        _ method: RPCMethod<Request, Response>, _ request: Request, context: RPCRequestContext,
        operation: (Request, Caller) async throws(KMSError) -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        var caller: Caller
        do {
            try self.limits.admit(source: context.connection.remoteIP)
            caller = try await self.gate.caller(for: context.connection)
            caller.requestID = context.externalID ?? RequestID.next()
            caller.operation = method.name
        } catch {
            try await self.audit(nil, context: context, operation: method.name, error: error)
            throw error
        }
        let response: Response
        do {
            // Sizes and shapes next, once the caller is known (so the refusal is counted
            // and audited as theirs): no key is looked up or authorized, and nothing of
            // the request is recorded, for a request that breaks them.
            if let checked = request as? any EdgeChecked { try checked.checkAtEdge() }
            try self.limits.admit(principal: caller.principalARN)
            // While the audit log cannot be written, nothing is done whose result would
            // have to be withheld.
            try self.auditLog?.admit()
            response = try await operation(request, caller)
        } catch {
            try await self.audit(caller, context: context, operation: method.name, error: error)
            self.metrics.request(
                method.name, result: RPCError(answering: error).code,
                duration: ContinuousClock.now - started)
            throw error
        }
        // No success is answered before its record is durable.
        try await self.audit(caller, context: context, operation: method.name, error: nil)
        self.metrics.request(method.name, result: "ok", duration: ContinuousClock.now - started)
        return response
    }
}
