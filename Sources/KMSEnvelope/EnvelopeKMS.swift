import Foundation
import KMSClient
import KMSProto

/// The three KMS calls a `KMSKeyring` makes: `KMSClient` answers them from kmsd; tests may
/// answer them in memory.
public protocol EnvelopeKMS: Sendable {
    /// GenerateDataKey of `byteCount` bytes: the plaintext, its ciphertext blob and the key's ARN.
    func generateDataKey(keyID: String, byteCount: Int, encryptionContext: [String: String]) async throws(EnvelopeError)
        -> (plaintext: [UInt8], ciphertext: [UInt8], keyARN: String)
    /// Encrypt: the ciphertext blob and the key's ARN.
    func encrypt(keyID: String, plaintext: [UInt8], encryptionContext: [String: String]) async throws(EnvelopeError)
        -> (ciphertext: [UInt8], keyARN: String)
    /// Decrypt with the key `keyID` only: the plaintext and the key's ARN.
    func decrypt(keyID: String, ciphertext: [UInt8], encryptionContext: [String: String]) async throws(EnvelopeError)
        -> (plaintext: [UInt8], keyARN: String)
}

extension KMSClient: EnvelopeKMS {
    /// GenerateDataKey through kmsd.
    public func generateDataKey(keyID: String, byteCount: Int, encryptionContext: [String: String])
        async throws(EnvelopeError) -> (plaintext: [UInt8], ciphertext: [UInt8], keyARN: String)
    {
        var request = KMSGenerateDataKeyRequest()
        request.keyID = keyID
        request.numberOfBytes = Int32(byteCount)
        request.encryptionContext = encryptionContext
        let response = try await Self.kms { () async throws(KMSClientError) in
            try await self.call(KMSMethod.generateDataKey, request)
        }
        return (Array(response.plaintext), Array(response.ciphertextBlob), response.keyID)
    }

    /// Encrypt through kmsd.
    public func encrypt(keyID: String, plaintext: [UInt8], encryptionContext: [String: String])
        async throws(EnvelopeError) -> (ciphertext: [UInt8], keyARN: String)
    {
        var request = KMSEncryptRequest()
        request.keyID = keyID
        request.plaintext = Data(plaintext)
        request.encryptionContext = encryptionContext
        let response = try await Self.kms { () async throws(KMSClientError) in
            try await self.call(KMSMethod.encrypt, request)
        }
        return (Array(response.ciphertextBlob), response.keyID)
    }

    /// Decrypt through kmsd, naming the key, so that a blob of another key is refused.
    public func decrypt(keyID: String, ciphertext: [UInt8], encryptionContext: [String: String])
        async throws(EnvelopeError) -> (plaintext: [UInt8], keyARN: String)
    {
        var request = KMSDecryptRequest()
        request.keyID = keyID
        request.ciphertextBlob = Data(ciphertext)
        request.encryptionContext = encryptionContext
        let response = try await Self.kms { () async throws(KMSClientError) in
            try await self.call(KMSMethod.decrypt, request)
        }
        return (Array(response.plaintext), response.keyID)
    }

    private static func kms<T>(_ call: () async throws(KMSClientError) -> T) async throws(EnvelopeError) -> T {
        do {
            return try await call()
        } catch {
            throw .kms(code: error.code, message: error.message)
        }
    }
}
