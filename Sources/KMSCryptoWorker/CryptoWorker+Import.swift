import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSWorkerProto

/// Bring your own key: a one-off RSA wrapping key per GetParametersForImport, whose private
/// half travels only inside the import token; ImportKeyMaterial opens the token, unwraps the
/// customer's material with it, checks the material against the key's spec and wraps it under
/// the root key like generated material.
extension CryptoWorker {
    /// A fresh RSA wrapping key and the token that carries its private half, sealed under the active root
    /// key and bound to the key's ARN; nothing is kept here, so any worker can open the token later.
    public func getParametersForImport(_ request: WorkerGetParametersForImportRequest) async throws(KMSError)
        -> WorkerGetParametersForImportResponse
    {
        _ = try KeyID(parsing: request.keyID)
        guard !request.keyArn.isEmpty, request.keyArn.utf8.count <= 2048 else {
            throw .validation("key_arn must be 1..2048 characters")
        }
        let algorithm = try request.wrappingAlgorithm.required("wrapping_algorithm")
        guard [.rsaesOaepSha1, .rsaesOaepSha256, .rsaAesKeyWrapSha1, .rsaAesKeyWrapSha256].contains(algorithm) else {
            throw .unsupportedOperation("wrapping algorithm \(algorithm.rawValue) is not supported")
        }
        let spec = try request.wrappingKeySpec.required("wrapping_key_spec")
        guard let keySpec = KeySpec(rawValue: spec.rawValue), keySpec.isRSA else {
            throw .unsupportedOperation("wrapping key spec \(spec.rawValue) is not supported")
        }
        let token = ImportToken(
            validTo: Date(timeIntervalSince1970: TimeInterval(request.validTo)), algorithm: algorithm, spec: spec)
        let wrappingKey = try await self.generation.run { () throws(KMSError) -> PrivateKey in
            try PrivateKey.generate(keySpec)
        }
        var response = WorkerGetParametersForImportResponse()
        response.publicKey = Data(wrappingKey.publicKeyDER)
        response.importToken = Data(token.seal(wrappingKey, keyARN: request.keyArn, under: self.keyring.active))
        return response
    }

    /// Opens the import token (expired, or made for another key: refused), unwraps the customer's
    /// material, checks it fits the key's spec and wraps it under the active root key.
    public func importKeyMaterial(_ request: WorkerImportKeyMaterialRequest) async throws(KMSError)
        -> WorkerImportKeyMaterialResponse
    {
        let ref = request.key
        _ = try KeyID(parsing: ref.keyID)
        guard !ref.keyArn.isEmpty, ref.keyArn.utf8.count <= 2048 else {
            throw .validation("key.key_arn must be 1..2048 characters")
        }
        guard request.importTokenArn.utf8.count <= 2048 else {
            throw .validation("import_token_arn must be at most 2048 characters")
        }
        let spec = try Self.spec(ref.keySpec, field: "key.key_spec")
        let keyring = self.keyring
        let tokenARN = request.importTokenArn.isEmpty ? ref.keyArn : request.importTokenArn
        let (token, wrappingKey) = try ImportToken.open(
            [UInt8](request.importToken), keyARN: tokenARN, keyring: keyring, now: Date())
        let encrypted = [UInt8](request.encryptedKeyMaterial)
        var material = try await self.heavy.run { () throws(KMSError) -> [UInt8] in
            try ImportedKeyMaterial.unwrap(encrypted, algorithm: token.algorithm, wrappingKey: wrappingKey)
        }
        defer { zeroize(&material) }
        let kind: MaterialKind
        if spec == .symmetricDefault {
            guard material.count == 32 else {
                throw KMSError(
                    .incorrectKeyMaterial,
                    "SYMMETRIC_DEFAULT key material must be 32 bytes (256 bits), not \(material.count).")
            }
            kind = .symmetric256
        } else if let hmac = spec.hmacKeyBytes {
            guard hmac.importable.contains(material.count) else {
                throw KMSError(
                    .incorrectKeyMaterial,
                    "\(spec.rawValue) key material must be \(hmac.importable.lowerBound) to "
                        + "\(hmac.importable.upperBound) bytes, not \(material.count)."
                )
            }
            kind = .hmac
        } else {
            // Parsed for its spec, and stored in OpenSSL's canonical encoding, so that the
            // same key imported again in another encoding is still the same material.
            let parsed = try PrivateKey(pkcs8DER: material, spec: spec)
            zeroize(&material)
            material = parsed.withPKCS8DER { $0 }
            kind = .privateKey
        }
        let materialID = MaterialID.imported(material, keyARN: ref.keyArn)
        let root = keyring.active
        var response = WorkerImportKeyMaterialResponse()
        response.material.materialID = Data(materialID.bytes)
        response.material.wrapped = Data(
            MaterialWrapping.wrap(
                SymmetricKey(data: material), kind: kind, keyARN: ref.keyArn, materialID: materialID, under: root
            ))
        response.rootKeyID = root.id.description
        return response
    }
}
