import Foundation
import KMSProto
import KMSRPC
import KMSWorkerProto
import SwiftProtobuf

/// Every message of every service (client ↔ kmsd, admin, kmsd ↔ kms-cryptod, XKS backend), reachable without
/// knowing its type statically: what the protobuf and AWS JSON targets choose from with a byte.
/// `KMSFuzzTargetsTests` checks that this names every rpc of the generated method tables.
struct RPCMessages {
    let service: String
    let method: String
    let request: MessageKind
    let response: MessageKind

    init<Request, Response>(_ service: String, _ method: RPCMethod<Request, Response>) {
        self.service = service
        self.method = method.name
        self.request = MessageKind(Request.self)
        self.response = MessageKind(Response.self)
    }

    static let kms: [RPCMessages] = [
        .init("kms", KMSMethod.createKey),
        .init("kms", KMSMethod.describeKey),
        .init("kms", KMSMethod.listKeys),
        .init("kms", KMSMethod.updateKeyDescription),
        .init("kms", KMSMethod.enableKey),
        .init("kms", KMSMethod.disableKey),
        .init("kms", KMSMethod.scheduleKeyDeletion),
        .init("kms", KMSMethod.cancelKeyDeletion),
        .init("kms", KMSMethod.encrypt),
        .init("kms", KMSMethod.decrypt),
        .init("kms", KMSMethod.reEncrypt),
        .init("kms", KMSMethod.generateDataKey),
        .init("kms", KMSMethod.generateDataKeyWithoutPlaintext),
        .init("kms", KMSMethod.generateDataKeyPair),
        .init("kms", KMSMethod.generateDataKeyPairWithoutPlaintext),
        .init("kms", KMSMethod.generateRandom),
        .init("kms", KMSMethod.sign),
        .init("kms", KMSMethod.verify),
        .init("kms", KMSMethod.getPublicKey),
        .init("kms", KMSMethod.generateMac),
        .init("kms", KMSMethod.verifyMac),
        .init("kms", KMSMethod.deriveSharedSecret),
        .init("kms", KMSMethod.createAlias),
        .init("kms", KMSMethod.updateAlias),
        .init("kms", KMSMethod.deleteAlias),
        .init("kms", KMSMethod.listAliases),
        .init("kms", KMSMethod.createGrant),
        .init("kms", KMSMethod.listGrants),
        .init("kms", KMSMethod.listRetirableGrants),
        .init("kms", KMSMethod.retireGrant),
        .init("kms", KMSMethod.revokeGrant),
        .init("kms", KMSMethod.getKeyPolicy),
        .init("kms", KMSMethod.putKeyPolicy),
        .init("kms", KMSMethod.listKeyPolicies),
        .init("kms", KMSMethod.enableKeyRotation),
        .init("kms", KMSMethod.disableKeyRotation),
        .init("kms", KMSMethod.getKeyRotationStatus),
        .init("kms", KMSMethod.rotateKeyOnDemand),
        .init("kms", KMSMethod.listKeyRotations),
        .init("kms", KMSMethod.tagResource),
        .init("kms", KMSMethod.untagResource),
        .init("kms", KMSMethod.listResourceTags),
        .init("kms", KMSMethod.getParametersForImport),
        .init("kms", KMSMethod.importKeyMaterial),
        .init("kms", KMSMethod.deleteImportedKeyMaterial),
        .init("kms", KMSMethod.getKeyLastUsage),
        .init("kms", KMSMethod.replicateKey),
        .init("kms", KMSMethod.updatePrimaryRegion),
        .init("kms", KMSMethod.createCustomKeyStore),
        .init("kms", KMSMethod.describeCustomKeyStores),
        .init("kms", KMSMethod.updateCustomKeyStore),
        .init("kms", KMSMethod.deleteCustomKeyStore),
        .init("kms", KMSMethod.connectCustomKeyStore),
        .init("kms", KMSMethod.disconnectCustomKeyStore),
    ]

    static let admin: [RPCMessages] = [
        .init("admin", AdminMethod.getCallerIdentity),
        .init("admin", AdminMethod.createAccount),
        .init("admin", AdminMethod.listAccounts),
        .init("admin", AdminMethod.createPrincipal),
        .init("admin", AdminMethod.listPrincipals),
        .init("admin", AdminMethod.deletePrincipal),
        .init("admin", AdminMethod.createAccessKey),
        .init("admin", AdminMethod.listAccessKeys),
        .init("admin", AdminMethod.updateAccessKey),
        .init("admin", AdminMethod.deleteAccessKey),
        .init("admin", AdminMethod.putPrincipalPolicy),
        .init("admin", AdminMethod.getPrincipalPolicy),
        .init("admin", AdminMethod.listPrincipalPolicies),
        .init("admin", AdminMethod.deletePrincipalPolicy),
        .init("admin", AdminMethod.startRewrap),
        .init("admin", AdminMethod.getRewrapStatus),
        .init("admin", AdminMethod.listAuditRecords),
        .init("admin", AdminMethod.verifyAuditLog),
        .init("admin", AdminMethod.getUsage),
    ]

    static let worker: [RPCMessages] = [
        .init("worker", WorkerMethod.describe),
        .init("worker", WorkerMethod.generateKeyMaterial),
        .init("worker", WorkerMethod.rewrapKeyMaterial),
        .init("worker", WorkerMethod.encrypt),
        .init("worker", WorkerMethod.decrypt),
        .init("worker", WorkerMethod.reEncrypt),
        .init("worker", WorkerMethod.generateDataKey),
        .init("worker", WorkerMethod.generateRandom),
        .init("worker", WorkerMethod.createAccessKeySecret),
        .init("worker", WorkerMethod.verifyAccessKeyProof),
        .init("worker", WorkerMethod.deriveSigningKey),
        .init("worker", WorkerMethod.rewrapAccessKeySecret),
        .init("worker", WorkerMethod.sign),
        .init("worker", WorkerMethod.verify),
        .init("worker", WorkerMethod.getPublicKey),
        .init("worker", WorkerMethod.generateMac),
        .init("worker", WorkerMethod.verifyMac),
        .init("worker", WorkerMethod.generateDataKeyPair),
        .init("worker", WorkerMethod.deriveSharedSecret),
        .init("worker", WorkerMethod.getParametersForImport),
        .init("worker", WorkerMethod.importKeyMaterial),
        .init("worker", WorkerMethod.macAuditCheckpoint),
        .init("worker", WorkerMethod.verifyAuditCheckpoints),
        .init("worker", WorkerMethod.getTransportKey),
        .init("worker", WorkerMethod.sealMaterialForPeer),
        .init("worker", WorkerMethod.openMaterialFromPeer),
        .init("worker", WorkerMethod.rawAesGcmEncrypt),
        .init("worker", WorkerMethod.rawAesGcmDecrypt),
        .init("worker", WorkerMethod.unwrapXksProxySecret),
        .init("worker", WorkerMethod.wrapTokenPin),
        .init("worker", WorkerMethod.rewrapTokenPin),
        .init("worker", WorkerMethod.connectToken),
        .init("worker", WorkerMethod.checkToken),
        .init("worker", WorkerMethod.disconnectToken),
        .init("worker", WorkerMethod.createTokenKey),
        .init("worker", WorkerMethod.tokenEncrypt),
        .init("worker", WorkerMethod.tokenDecrypt),
        .init("worker", WorkerMethod.tokenGenerateDataKey),
        .init("worker", WorkerMethod.destroyTokenKey),
        .init("worker", WorkerMethod.tokenGenerateRandom),
    ]

    static let xks: [RPCMessages] = [
        .init("xks", XKSBackendMethod.xksGetKeyMetadata),
        .init("xks", XKSBackendMethod.xksEncrypt),
        .init("xks", XKSBackendMethod.xksDecrypt),
    ]

    static let all = kms + admin + worker + xks
}

/// One message type, erased: its name and the checks the targets run on it.
struct MessageKind: Sendable {
    let name: String
    /// Decodes protobuf bytes; for what decodes, checks the binary round trip (and that the
    /// AWS JSON encoder copes with it). Returns whether the bytes decoded.
    let binaryRoundTrip: @Sendable ([UInt8]) -> Bool
    /// Checks what an AWS JSON body decodes to (for requests of the public service).
    let awsJSONRoundTrip: @Sendable (Data) -> Void

    init<M: SwiftProtobuf.Message>(_ type: M.Type) {
        self.name = M.protoMessageName
        self.binaryRoundTrip = { MessageChecks.binaryRoundTrip(M.self, $0) }
        self.awsJSONRoundTrip = { MessageChecks.awsJSONRoundTrip(M.self, $0) }
    }
}
