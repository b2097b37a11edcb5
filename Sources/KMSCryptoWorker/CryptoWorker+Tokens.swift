import Foundation
import KMSCrypto
import KMSDomain
import KMSPKCS11
import KMSWorkerProto

/// PKCS #11 tokens, for AWS_CLOUDHSM custom key stores: each KMS key's material is an AES-256
/// key inside the token, generated there and never extractable; this worker logs in with the
/// store's PIN (which the database holds only wrapped by this worker) and asks the token to
/// encrypt and decrypt. Token calls block (a networked HSM answers in milliseconds), so they run
/// on a pool of their own, never on an event loop.
extension CryptoWorker {
    /// Wraps a token PIN for the database, bound to its custom key store.
    public func wrapTokenPin(_ request: WorkerWrapTokenPinRequest) throws(KMSError) -> WorkerWrapTokenPinResponse {
        try TokenConnections.checkStoreID(request.customKeyStoreID)
        guard TokenPIN.isValid(request.pin) else {
            throw .validation("pin must be 1..\(TokenPIN.maximumBytes) printable ASCII characters")
        }
        let root = self.keyring.active
        var pin = Array(request.pin.utf8)
        defer { zeroize(&pin) }
        var response = WorkerWrapTokenPinResponse()
        response.wrappedPin = Data(TokenPIN.wrap(pin, customKeyStoreID: request.customKeyStoreID, under: root))
        response.rootKeyID = root.id.description
        return response
    }

    /// Re-wraps a stored PIN under the active root key; `changed` false when it already was.
    public func rewrapTokenPin(_ request: WorkerRewrapTokenPinRequest) throws(KMSError)
        -> WorkerRewrapTokenPinResponse
    {
        try TokenConnections.checkStoreID(request.customKeyStoreID)
        let keyring = self.keyring
        let wrapped = [UInt8](request.wrappedPin)
        var response = WorkerRewrapTokenPinResponse()
        response.rootKeyID = keyring.active.id.description
        if TokenPIN.rootKeyID(of: wrapped) == keyring.active.id {
            response.wrappedPin = request.wrappedPin
            return response
        }
        response.wrappedPin = Data(
            try TokenPIN.withUnwrapped(wrapped, customKeyStoreID: request.customKeyStoreID, keyring: keyring) { pin in
                TokenPIN.wrap(pin, customKeyStoreID: request.customKeyStoreID, under: keyring.active)
            })
        response.changed = true
        return response
    }

    /// Logs in afresh. A token that cannot be reached or refuses the PIN is an answer (connected
    /// false, AWS's ConnectionErrorCode), so kmsd can record why the store failed to connect.
    public func connectToken(_ request: WorkerConnectTokenRequest) async throws(KMSError)
        -> WorkerConnectTokenResponse
    {
        let keyring = self.keyring
        return try await self.tokenWork.run { () throws(KMSError) -> WorkerConnectTokenResponse in
            var response = WorkerConnectTokenResponse()
            switch try self.tokens.reconnect(request.token, keyring: keyring) {
            case .success(let token):
                response.connected = true
                if let health = try? token.health() { response.tokenInfo = WorkerTokenInfo(health) }
            case .failure(let failure):
                response.connectionErrorCode = failure.connectionErrorCode
                response.message = failure.error.description
            }
            return response
        }
    }

    /// Whether this worker's connection for the store (made now if it has none) is logged in.
    public func checkToken(_ request: WorkerCheckTokenRequest) async throws(KMSError) -> WorkerCheckTokenResponse {
        let keyring = self.keyring
        return try await self.tokenWork.run { () throws(KMSError) -> WorkerCheckTokenResponse in
            var response = WorkerCheckTokenResponse()
            do throws(KMSError) {
                let token = try self.tokens.token(for: request.token, keyring: keyring)
                let health: PKCS11TokenHealth
                do throws(PKCS11Error) { health = try token.health() } catch { throw TokenFailure.map(error) }
                response.tokenInfo = WorkerTokenInfo(health)
                response.healthy = health.loggedIn
                if !health.loggedIn {
                    response.connectionErrorCode = "INTERNAL_ERROR"
                    response.message = "the token's session is not logged in as the user"
                }
            } catch  where error.code == .validation || error.code == .keyUnavailable {
                throw error
            } catch {
                response.connectionErrorCode = TokenFailure.connectionErrorCode(error, cause: nil)
                response.message = error.description
            }
            return response
        }
    }

    /// Closes the store's connection (logging out of the token).
    public func disconnectToken(_ request: WorkerDisconnectTokenRequest) throws(KMSError)
        -> WorkerDisconnectTokenResponse
    {
        try TokenConnections.checkStoreID(request.customKeyStoreID)
        var response = WorkerDisconnectTokenResponse()
        response.wasConnected = self.tokens.disconnect(request.customKeyStoreID)
        return response
    }

    /// Generates the token key of a new material version of a KMS key.
    public func createTokenKey(_ request: WorkerCreateTokenKeyRequest) async throws(KMSError)
        -> WorkerCreateTokenKeyResponse
    {
        let keyID = try KeyID(parsing: request.keyID)
        try Self.checkKeyARN(request.keyArn, keyID: keyID, field: "key_arn")
        let materialID = MaterialID.random()
        let label = TokenCiphertext.tokenKeyLabel(keyID: keyID, materialID: materialID)
        let keyring = self.keyring
        try await self.onToken(request.token, keyring: keyring) { token throws(PKCS11Error) in
            try token.generateAESKey(label: label)
        }
        var response = WorkerCreateTokenKeyResponse()
        response.materialID = Data(materialID.bytes)
        response.tokenKeyLabel = label
        return response
    }

    /// Seals a plaintext with the token key of the request's material.
    public func tokenEncrypt(_ request: WorkerTokenEncryptRequest) async throws(KMSError) -> WorkerTokenEncryptResponse
    {
        try Limits.check(request.plaintext.count, in: Limits.plaintextBytes, field: "plaintext")
        var response = WorkerTokenEncryptResponse()
        response.ciphertextBlob = Data(
            try await self.tokenSeal(
                [UInt8](request.plaintext), token: request.token, key: request.key, context: request.encryptionContext))
        return response
    }

    /// Opens a token ciphertext; it must name the request's key and material.
    public func tokenDecrypt(_ request: WorkerTokenDecryptRequest) async throws(KMSError) -> WorkerTokenDecryptResponse
    {
        let blob = [UInt8](request.ciphertextBlob)
        try Limits.check(blob.count, in: Limits.ciphertextBlobBytes, field: "ciphertextBlob")
        let (keyID, materialID) = try Self.tokenKey(request.key)
        let parts = try TokenCiphertext.parse(blob)
        guard parts.keyID == keyID else { throw .incorrectKey("the ciphertext was encrypted under another KMS key") }
        guard parts.materialID == materialID else {
            throw .invalidCiphertext("the ciphertext names key material that was not supplied")
        }
        let aad = try TokenCiphertext.additionalData(
            header: parts.header, keyARN: request.key.keyArn, encryptionContext: request.encryptionContext)
        let label = TokenCiphertext.tokenKeyLabel(keyID: keyID, materialID: materialID)
        var plaintext = try await self.onToken(request.token, keyring: self.keyring) { token throws(PKCS11Error) in
            try token.decrypt(keyLabel: label, iv: parts.nonce, aad: aad, ciphertext: parts.sealed)
        }
        defer { zeroize(&plaintext) }
        var response = WorkerTokenDecryptResponse()
        response.plaintext = Data(plaintext)
        return response
    }

    /// A data key from the system's generator, sealed with the token key (and in the clear when asked).
    public func tokenGenerateDataKey(_ request: WorkerTokenGenerateDataKeyRequest) async throws(KMSError)
        -> WorkerTokenGenerateDataKeyResponse
    {
        try Limits.check(value: Int(request.numberOfBytes), in: Limits.numberOfBytes, field: "numberOfBytes")
        var dataKey = randomBytes(Int(request.numberOfBytes))
        defer { zeroize(&dataKey) }
        var response = WorkerTokenGenerateDataKeyResponse()
        response.ciphertextBlob = Data(
            try await self.tokenSeal(
                dataKey, token: request.token, key: request.key, context: request.encryptionContext))
        if request.includePlaintext { response.plaintext = Data(dataKey) }
        return response
    }

    /// Random bytes from the token's generator (GenerateRandom with an AWS_CLOUDHSM store's id).
    public func tokenGenerateRandom(_ request: WorkerTokenGenerateRandomRequest) async throws(KMSError)
        -> WorkerTokenGenerateRandomResponse
    {
        try Limits.check(value: Int(request.numberOfBytes), in: Limits.numberOfBytes, field: "numberOfBytes")
        let count = Int(request.numberOfBytes)
        var response = WorkerTokenGenerateRandomResponse()
        response.plaintext = Data(
            try await self.onToken(request.token, keyring: self.keyring) { token throws(PKCS11Error) in
                try token.generateRandom(count: count)
            })
        return response
    }

    /// Destroys the token key of a material version (its key's deletion); `destroyed` false when
    /// the token held none.
    public func destroyTokenKey(_ request: WorkerDestroyTokenKeyRequest) async throws(KMSError)
        -> WorkerDestroyTokenKeyResponse
    {
        let (keyID, materialID) = try Self.tokenKey(request.key)
        let label = TokenCiphertext.tokenKeyLabel(keyID: keyID, materialID: materialID)
        var response = WorkerDestroyTokenKeyResponse()
        response.destroyed = try await self.onToken(request.token, keyring: self.keyring) {
            token throws(PKCS11Error) -> Bool in
            do throws(PKCS11Error) {
                try token.destroyKey(label: label)
                return true
            } catch .keyNotFound {
                return false
            }
        }
        return response
    }

    private func tokenSeal(
        _ plaintext: [UInt8], token ref: WorkerTokenRef, key: WorkerKeyRef, context: [String: String]
    )
        async throws(KMSError) -> [UInt8]
    {
        let (keyID, materialID) = try Self.tokenKey(key)
        let header = TokenCiphertext.header(keyID: keyID, materialID: materialID)
        let aad = try TokenCiphertext.additionalData(header: header, keyARN: key.keyArn, encryptionContext: context)
        let label = TokenCiphertext.tokenKeyLabel(keyID: keyID, materialID: materialID)
        let sealed = try await self.onToken(ref, keyring: self.keyring) { token throws(PKCS11Error) in
            try token.encrypt(
                keyLabel: label, iv: TokenCiphertext.nonce(ofHeader: header), aad: aad, plaintext: plaintext)
        }
        return header + sealed
    }

    /// Runs `body` on the store's token, on the token pool; a connection found lost is made again
    /// once from the request's PIN before the failure is reported.
    private func onToken<T: Sendable>(
        _ ref: WorkerTokenRef, keyring: RootKeyring, _ body: @escaping @Sendable (PKCS11Token) throws(PKCS11Error) -> T
    ) async throws(KMSError) -> T {
        try TokenConnections.check(ref)
        return try await self.tokenWork.run { () throws(KMSError) -> T in
            var attempts = 0
            while true {
                attempts += 1
                let token = try self.tokens.token(for: ref, keyring: keyring)
                do throws(PKCS11Error) {
                    return try body(token)
                } catch {
                    guard error.connectionLost, attempts < 2 else { throw TokenFailure.map(error) }
                }
            }
        }
    }

    /// A token operation's key: its id and ARN, and the material id of its token key.
    static func tokenKey(_ ref: WorkerKeyRef) throws(KMSError) -> (KeyID, MaterialID) {
        let keyID = try KeyID(parsing: ref.keyID)
        try Self.checkKeyARN(ref.keyArn, keyID: keyID, field: "key.key_arn")
        guard ref.hasMaterial else { throw .validation("key.material is required") }
        guard ref.keySpec == .unspecified || ref.keySpec == .symmetricDefault else {
            throw .validation("key.key_spec must be SYMMETRIC_DEFAULT: a token holds AES keys only")
        }
        return (keyID, try MaterialID(bytes: ref.material.materialID))
    }

    static func checkKeyARN(_ arn: String, keyID: KeyID, field: String) throws(KMSError) {
        guard arn.hasPrefix("arn:"), arn.hasSuffix(":key/\(keyID)"), arn.utf8.count <= 2048 else {
            throw .validation("\(field) must be the ARN of key \(keyID)")
        }
    }
}

extension WorkerTokenInfo {
    init(_ health: PKCS11TokenHealth) {
        self.init()
        self.label = health.label
        self.manufacturer = health.manufacturer
        self.model = health.model
        self.serialNumber = health.serialNumber
    }
}
