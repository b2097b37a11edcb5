import CKMSOpenSSL
import KMSDomain

extension PrivateKey {
    /// RAW: the message is hashed with the algorithm's hash (ED25519_SHA_512: the message itself,
    /// pure Ed25519). DIGEST: the message is already that hash (length = algorithm.digestBytes;
    /// otherwise KMSError(.validation, ...)); ED25519_SHA_512 takes RAW only. RSASSA_PSS uses
    /// MGF1 with the same hash and a salt as long as the hash (AWS's choice). ECDSA signatures
    /// are DER (as AWS returns them). An algorithm that does not belong to the key's spec:
    /// KMSError(.invalidKeyUsage, ...); ED25519_PH_SHA_512: KMSError(.unsupportedOperation, ...).
    /// ML_DSA_SHAKE_256: pure ML-DSA of a RAW message, empty context; EXTERNAL_MU:
    /// KMSError(.unsupportedOperation, ...) (SignatureScheme says why).
    public func sign(_ message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws(KMSError)
        -> [UInt8]
    {
        let scheme = try SignatureScheme(
            spec: spec, algorithm: algorithm, messageType: messageType, messageBytes: message.count)
        if case .mlDsa(let key) = backing { return try key.sign(message) }
        if let ecdsa {
            return try ecdsa.sign(
                digest: NISTCurveECDSA.digest(of: message, algorithm: algorithm, isDigest: scheme.isDigest))
        }
        let key = try openSSLKey()
        let signature = withOutputBuffer(capacity: key.maximumOutputBytes) { out, length in
            message.withUnsafeBufferPointer {
                kms_sign(
                    key.pointer, scheme.scheme, scheme.hash, scheme.isDigest ? 1 : 0,
                    $0.baseAddress, $0.count, out, &length)
            }
        }
        guard let signature else { throw .internalFailure("signing failed") }
        return signature
    }

    /// RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256 (MGF1 with the same hash, empty label). A
    /// ciphertext that does not decrypt: KMSError(.invalidCiphertext, ...) with a generic message
    /// (no padding oracle detail).
    public func decrypt(_ ciphertext: [UInt8], algorithm: EncryptionAlgorithm) throws(KMSError) -> [UInt8] {
        try oaepDecrypt(ciphertext, hash: oaepHash(spec: spec, algorithm: algorithm), name: algorithm.rawValue)
    }

    /// `hash` is KMS_HASH_SHA1 or KMS_HASH_SHA256; `name` names the algorithm in the error.
    func oaepDecrypt(_ ciphertext: [UInt8], hash: Int32, name: String) throws(KMSError) -> [UInt8] {
        // One message whatever went wrong (length, integer range, padding), so the answer tells
        // nothing about where decryption failed.
        let failure = KMSError.invalidCiphertext("the ciphertext does not decrypt under this key with \(name)")
        guard ciphertext.count == spec.rsaModulusBytes else { throw failure }
        let key = try openSSLKey()
        let plaintext = withOutputBuffer(capacity: key.maximumOutputBytes) { out, length in
            ciphertext.withUnsafeBufferPointer {
                kms_rsa_oaep_decrypt(key.pointer, hash, $0.baseAddress, $0.count, out, &length)
            }
        }
        guard let plaintext else { throw failure }
        return plaintext
    }

    /// ECDH on P-256/384/521: the raw shared x-coordinate (as AWS DeriveSharedSecret returns).
    /// `peerPublicKeyDER` is a DER SubjectPublicKeyInfo; one that does not parse, is not EC, is
    /// on another curve or is not a valid point: KMSError(.validation, ...). A key that is not
    /// for key agreement (RSA, secp256k1, Ed25519): KMSError(.invalidKeyUsage, ...).
    public func deriveSharedSecret(peerPublicKeyDER: [UInt8]) throws(KMSError) -> [UInt8] {
        guard spec == .eccNistP256 || spec == .eccNistP384 || spec == .eccNistP521 else {
            throw KMSError(
                .invalidKeyUsage,
                "a \(spec.rawValue) key cannot derive shared secrets (ECDH needs an ECC_NIST_P256, P384 or P521 key)")
        }
        let key = try openSSLKey()
        guard let peer = OpenSSLKey.publicKey(spki: peerPublicKeyDER) else {
            throw .validation("the public key is not a DER SubjectPublicKeyInfo")
        }
        guard let shape = peer.shape, shape == key.shape else {
            throw .validation(
                "the public key is \(peer.shape?.name ?? "of an unsupported kind"); ECDH with a \(spec.rawValue) key "
                    + "needs a public key on the same curve"
            )
        }
        let secret = withOutputBuffer(capacity: key.maximumOutputBytes) { out, length in
            kms_ecdh(key.pointer, peer.pointer, out, &length)
        }
        guard let secret else { throw .validation("the public key is not a valid point of the key's curve") }
        return secret
    }
}
