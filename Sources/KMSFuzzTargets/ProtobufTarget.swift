import Foundation
import KMSProto
import KMSRPC
import KMSWorkerProto
import SwiftProtobuf

/// Protobuf decoding of the RPC envelope and of every request and response message of the
/// three services (what kmsd decodes from clients, what kms-cryptod decodes from kmsd and the
/// other way round).
///
/// Input: one byte that chooses the message type, then its protobuf bytes. For what decodes:
/// the binary round trip (`MessageChecks.binaryRoundTrip`).
enum ProtobufTarget {
    static let target = FuzzTarget(name: "protobuf", run: run, seeds: seeds)

    static let kinds: [MessageKind] =
        [MessageKind(RPCEnvelope.self), MessageKind(RPCErrorBody.self)]
        + RPCMessages.all.flatMap { [$0.request, $0.response] }

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let kind = kinds[Int(input.byte()) % kinds.count]
        _ = kind.binaryRoundTrip(input.rest())
    }

    static func seed<M: SwiftProtobuf.Message>(_ message: M) -> [UInt8] {
        let index = kinds.firstIndex { $0.name == M.protoMessageName }!
        return [UInt8(index)] + (try! message.serializedBytes(options: MessageChecks.deterministic))
    }

    static func seeds() -> [[UInt8]] {
        var envelope = RPCEnvelope()
        envelope.requestID = 42
        envelope.method = "Encrypt"
        envelope.payload = Data(repeating: 0x11, count: 40)
        var error = RPCErrorBody()
        error.code = "NotFoundException"
        error.message =
            "Key 'arn:aws:kms:us-east-1:111122223333:key/0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11' does not exist"
        error.retryable = false

        var encrypt = KMSEncryptRequest()
        encrypt.keyID = "alias/app"
        encrypt.plaintext = Data("attack at dawn".utf8)
        encrypt.encryptionContext = ["tenant": "acme", "purpose": "backup"]
        encrypt.grantTokens = ["token-1"]
        encrypt.encryptionAlgorithm = .symmetricDefault

        var createKey = KMSCreateKeyRequest()
        createKey.description_p = "orders"
        createKey.keySpec = .eccNistP256
        createKey.keyUsage = .signVerify
        var tag = KMSTag()
        tag.tagKey = "team"
        tag.tagValue = "payments"
        createKey.tags = [tag]
        createKey.policy = PolicyTarget.examplePolicies[0]

        var grant = KMSCreateGrantRequest()
        grant.keyID = "0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11"
        grant.granteePrincipal = "arn:aws:iam::111122223333:role/app"
        grant.operations = [.decrypt, .encrypt, .createGrant]
        grant.constraints.encryptionContextSubset = ["tenant": "acme"]

        var importKey = KMSImportKeyMaterialRequest()
        importKey.keyID = "0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11"
        importKey.importToken = Data(repeating: 1, count: 64)
        importKey.encryptedKeyMaterial = Data(repeating: 2, count: 256)
        importKey.validTo = Google_Protobuf_Timestamp(seconds: 1_801_353_600, nanos: 500_000_000)
        importKey.expirationModel = .keyMaterialExpires

        var describe = KMSDescribeKeyResponse()
        describe.keyMetadata.keyID = "0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11"
        describe.keyMetadata.awsAccountID = "111122223333"
        describe.keyMetadata.keyState = .pendingDeletion
        describe.keyMetadata.creationDate = Google_Protobuf_Timestamp(seconds: 1_700_000_000, nanos: 500_000_000)
        describe.keyMetadata.encryptionAlgorithms = [.symmetricDefault]

        var workerDecrypt = WorkerDecryptRequest()
        workerDecrypt.ciphertextBlob = Data(repeating: 0xAB, count: 93)
        workerDecrypt.encryptionContext = ["tenant": "acme"]

        var xksEncrypt = XKSBackendXksEncryptRequest()
        xksEncrypt.keyID = "xks-key-1"
        xksEncrypt.plaintext = Data("attack at dawn".utf8)
        xksEncrypt.additionalAuthenticatedData = Data("project=nile".utf8)
        xksEncrypt.requestMetadata.awsPrincipalArn = "arn:aws:iam::111122223333:user/Alice"
        xksEncrypt.requestMetadata.kmsOperation = "Encrypt"
        xksEncrypt.requestMetadata.kmsRequestID = "4112f4d6-db54-4af4-ae30-c55a22a8dfae"

        var createStore = KMSCreateCustomKeyStoreRequest()
        createStore.customKeyStoreName = "external"
        createStore.customKeyStoreType = .externalKeyStore
        createStore.xksProxyUriEndpoint = "https://xks.example.com"
        createStore.xksProxyUriPath = "/example/kms/xks/v1"
        createStore.xksProxyConnectivity = .publicEndpoint
        createStore.xksProxyAuthenticationCredential.accessKeyID = "ABCDEFGHIJKLMNOPQRST234567"
        createStore.xksProxyAuthenticationCredential.rawSecretAccessKey = String(repeating: "k", count: 43)

        var stores = KMSDescribeCustomKeyStoresResponse()
        var store = KMSCustomKeyStoresListEntry()
        store.customKeyStoreID = "cks-0123456789abcdef0"
        store.connectionState = .failed
        store.connectionErrorCode = .xksProxyTimedOut
        store.creationDate = Google_Protobuf_Timestamp(seconds: 1_700_000_000, nanos: 0)
        store.xksProxyConfiguration.uriEndpoint = "https://xks.example.com"
        stores.customKeyStores = [store]
        stores.truncated = true
        stores.nextMarker = "Y2tzLTAxMjM0NTY3ODlhYmNkZWYw"

        return [
            seed(envelope), seed(error), seed(encrypt), seed(createKey), seed(grant), seed(importKey), seed(describe),
            seed(workerDecrypt), seed(xksEncrypt), seed(createStore), seed(stores),
        ]
    }
}
