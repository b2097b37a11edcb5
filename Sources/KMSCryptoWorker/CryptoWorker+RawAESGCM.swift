import Foundation
import KMSCrypto
import KMSDomain
import KMSWorkerProto

extension CryptoWorker {
    /// The plaintext size the XKS proxy API requires a proxy to take (more than Encrypt's 4096).
    static let rawPlaintextBytes = 0...4300
    /// The XKS API's 8192 bytes of AAD, with the lengths and the ciphertext metadata kmsd adds.
    static let rawAADBytes = 0...8448

    /// AES-256-GCM under a symmetric key's named material with the caller's AAD (kms-xks-proxy's
    /// Encrypt, through kmsd); the parts come back apart.
    public func rawAesGcmEncrypt(_ request: WorkerRawAesGcmEncryptRequest) throws(KMSError)
        -> WorkerRawAesGcmEncryptResponse
    {
        try Limits.check(request.plaintext.count, in: Self.rawPlaintextBytes, field: "plaintext")
        try Limits.check(
            request.additionalAuthenticatedData.count, in: Self.rawAADBytes, field: "additional_authenticated_data")
        let key = try self.resolve(request.key, field: "key")
        let sealed = try RawAESGCM.seal(
            request.plaintext, aad: request.additionalAuthenticatedData, material: try key.symmetric(),
            keyID: key.keyID, materialID: key.materialID)
        var response = WorkerRawAesGcmEncryptResponse()
        response.ciphertext = Data(sealed.ciphertext)
        response.initializationVector = Data(sealed.nonce)
        response.authenticationTag = Data(sealed.tag)
        return response
    }

    /// The reverse of `rawAesGcmEncrypt`; InvalidCiphertextException when any part does not
    /// authenticate. The plaintext buffer is zeroed once copied out.
    public func rawAesGcmDecrypt(_ request: WorkerRawAesGcmDecryptRequest) throws(KMSError)
        -> WorkerRawAesGcmDecryptResponse
    {
        try Limits.check(request.ciphertext.count, in: Self.rawPlaintextBytes, field: "ciphertext")
        try Limits.check(
            request.additionalAuthenticatedData.count, in: Self.rawAADBytes, field: "additional_authenticated_data")
        let key = try self.resolve(request.key, field: "key")
        var plaintext = try RawAESGCM.open(
            ciphertext: request.ciphertext, nonce: request.initializationVector, tag: request.authenticationTag,
            aad: request.additionalAuthenticatedData, material: try key.symmetric(), keyID: key.keyID,
            materialID: key.materialID)
        defer { zeroize(&plaintext) }
        var response = WorkerRawAesGcmDecryptResponse()
        response.plaintext = Data(plaintext)
        return response
    }
}
