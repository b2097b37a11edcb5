import Foundation
import KMSCrypto
import KMSDomain
import KMSProto
import KMSStore
import KMSWorkerProto
import KMSXKS

/// kms-xks-proxy's backend: the XKS proxy API's key operations on our keys.
///
/// Each is authorized as the KMS operation it amounts to, by the key policy, grants and
/// identity policies of the proxy's principal, like any other call: XksEncrypt as kms:Encrypt,
/// XksDecrypt as kms:Decrypt, XksGetKeyMetadata as kms:DescribeKey. Dedicated actions would have
/// asked every key owner to learn new names for what is the same power (an XKS ciphertext is
/// no more than an Encrypt blob in other clothes), and the policy language would refuse them as
/// unknown. The XKS caller's request metadata is recorded with the call, never trusted for it.
extension KMSService {
    /// The version byte of our ciphertextMetadata, then the first bytes of the material id:
    /// enough to tell a key's versions apart (ids are random), within the API's 20 bytes.
    static let xksMetadataVersion: UInt8 = 1
    static let xksMaterialPrefixBytes = 16

    func xksGetKeyMetadata(_ request: XKSBackendXksGetKeyMetadataRequest, caller: Caller) async throws(KMSError)
        -> XKSBackendXksGetKeyMetadataResponse
    {
        caller.trail.note(xks: request.requestMetadata)
        try Self.checkXKSKeyName(request.keyID)
        let named = try await self.freshen(try await self.resolve(request.keyID, for: caller), grantTokens: [])
        let key = try await self.authorizedUse(named, caller, action: "DescribeKey")
        try Self.checkXKSKey(key.record)
        var response = XKSBackendXksGetKeyMetadataResponse()
        response.keyArn = key.record.arn
        response.keySpec = "AES_256"
        response.keyUsage = ["ENCRYPT", "DECRYPT"]
        // Anything but Enabled (disabled, pending deletion or import) cannot be used now.
        response.keyStatus = key.record.state == .enabled && key.currentMaterial != nil ? "ENABLED" : "DISABLED"
        return response
    }

    func xksEncrypt(_ request: XKSBackendXksEncryptRequest, caller: Caller) async throws(KMSError)
        -> XKSBackendXksEncryptResponse
    {
        caller.trail.note(xks: request.requestMetadata)
        try Self.checkXKSKeyName(request.keyID)
        let key = try await self.openKey(.encrypt, named: request.keyID, caller: caller, grantTokens: [], dryRun: false)
        { record throws(KMSError) in
            try Self.checkXKSKey(record)
            _ = try Validation.encryption(record, algorithm: nil, operation: "XksEncrypt", now: self.now())
        }
        let metadata = Self.xksCiphertextMetadata(key.material.materialID)
        var call = WorkerRawAesGcmEncryptRequest()
        call.key = key.workerKey
        call.plaintext = request.plaintext
        call.additionalAuthenticatedData = XKSIntegrity.gcmAAD(
            additionalAuthenticatedData: request.additionalAuthenticatedData, ciphertextMetadata: metadata)
        let sealed = try await self.worker.call(WorkerMethod.rawAesGcmEncrypt, call)
        var response = XKSBackendXksEncryptResponse()
        response.keyArn = key.record.arn
        response.ciphertext = sealed.ciphertext
        response.initializationVector = sealed.initializationVector
        response.authenticationTag = sealed.authenticationTag
        response.ciphertextMetadata = metadata
        self.recordUse(of: key, by: caller)
        return response
    }

    func xksDecrypt(_ request: XKSBackendXksDecryptRequest, caller: Caller) async throws(KMSError)
        -> XKSBackendXksDecryptResponse
    {
        caller.trail.note(xks: request.requestMetadata)
        try Self.checkXKSKeyName(request.keyID)
        let opened = try await self.openKey(
            .decrypt, named: request.keyID, caller: caller, grantTokens: [], dryRun: false
        ) { record throws(KMSError) in
            try Self.checkXKSKey(record)
            _ = try Validation.encryption(record, algorithm: nil, operation: "XksDecrypt", now: self.now())
        }
        let material = try await self.xksMaterial(named: request.ciphertextMetadata, of: opened.key)
        let key = KeyInUse<Void>(use: .decrypt, key: opened.key, checked: (), material: material)
        var call = WorkerRawAesGcmDecryptRequest()
        call.key = key.workerKey
        call.ciphertext = request.ciphertext
        call.initializationVector = request.initializationVector
        call.authenticationTag = request.authenticationTag
        call.additionalAuthenticatedData = XKSIntegrity.gcmAAD(
            additionalAuthenticatedData: request.additionalAuthenticatedData,
            ciphertextMetadata: request.ciphertextMetadata)
        var response = XKSBackendXksDecryptResponse()
        response.keyArn = key.record.arn
        response.plaintext = try await self.worker.call(WorkerMethod.rawAesGcmDecrypt, call).plaintext
        self.recordUse(of: key, by: caller)
        return response
    }

    /// An AWS managed key is never an external key (AWS's are not either), and naming one must
    /// not create it on first use, as `alias/aws/<service>` would for the KMS operations.
    static func checkXKSKeyName(_ text: String) throws(KMSError) {
        let name = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).last.map(String.init)
        guard let name, name.hasPrefix("alias/aws/") else { return }
        throw KMSError(.notFound, "\(text.prefix(256)) is an AWS managed key, which the XKS proxy API does not serve.")
    }

    /// XKS version 1 knows 256-bit AES keys only.
    static func checkXKSKey(_ record: KeyRecord) throws(KMSError) {
        guard record.spec == .symmetricDefault else {
            throw KMSError(
                .invalidKeyUsage,
                "\(record.arn) is a \(record.spec.rawValue) key; the XKS proxy API serves only SYMMETRIC_DEFAULT keys.")
        }
    }

    static func xksCiphertextMetadata(_ materialID: MaterialID) -> Data {
        Data([xksMetadataVersion] + materialID.bytes.prefix(xksMaterialPrefixBytes))
    }

    /// The material version a ciphertextMetadata names; a key rotated since the cache loaded it is loaded again.
    func xksMaterial(named metadata: Data, of key: CachedKey) async throws(KMSError) -> StoredMaterial {
        guard metadata.count == 1 + Self.xksMaterialPrefixBytes, metadata.first == Self.xksMetadataVersion else {
            throw KMSError.invalidCiphertext("The ciphertextMetadata is not one this service produced.")
        }
        let prefix = Array(metadata.dropFirst())
        func find(_ key: CachedKey) -> StoredMaterial? {
            key.materials.first { $0.key.bytes.starts(with: prefix) }?.value
        }
        if let material = find(key) { return material }
        if let material = find(try await self.reloadKey(key.record.keyID)) { return material }
        throw KMSError.invalidCiphertext(
            "The ciphertextMetadata names key material that \(key.record.arn) does not have.")
    }
}

extension AuditTrail {
    /// The XKS caller's request metadata, recorded in the record's context slot under `xks:`
    /// names (the slot an encryption context takes; XKS operations have none).
    func note(xks metadata: XKSBackendXksRequestMetadata) {
        var context: [String: String] = [:]
        for (name, value) in [
            ("xks:awsPrincipalArn", metadata.awsPrincipalArn), ("xks:kmsKeyArn", metadata.kmsKeyArn),
            ("xks:kmsOperation", metadata.kmsOperation), ("xks:kmsRequestId", metadata.kmsRequestID),
            ("xks:kmsViaService", metadata.kmsViaService), ("xks:awsSourceVpc", metadata.awsSourceVpc),
            ("xks:awsSourceVpce", metadata.awsSourceVpce), ("xks:accessKeyId", metadata.xksAccessKeyID),
        ] where !value.isEmpty {
            context[name] = value
        }
        guard !context.isEmpty, (try? Edge.encryptionContext(context)) != nil else { return }
        self.details.withLock { details in
            if details.encryptionContext == nil { details.encryptionContext = context }
        }
    }
}
