import Crypto
import KMSDomain

/// What a wrapped material blob holds.
public enum MaterialKind: UInt8, Sendable {
    /// 256 random bits: the material of a SYMMETRIC_DEFAULT key.
    case symmetric256 = 1
    /// An asymmetric private key, PKCS#8 DER (its spec comes with each request, and parsing
    /// checks the key against it).
    case privateKey = 2
    /// An HMAC key's bytes (28 to 128 of them, by spec).
    case hmac = 3
}

/// Key material as stored: AES-256-GCM under a root key, its AAD binding it to the key ARN and
/// the material id, so that a blob copied to another key's row does not unwrap.
///
///     version (1) | kind (1) | root key id (16) | nonce (12) | ciphertext | tag (16)
public enum MaterialWrapping {
    static let version: UInt8 = 1
    static let headerLength = 1 + 1 + 16 + 12
    static let tagLength = 16
    static let domain = Array("kms/wrapped-material/v1".utf8)

    /// What a wrapped blob's header says, readable without unwrapping.
    public struct Header: Sendable, Equatable {
        /// What the blob holds.
        public let kind: MaterialKind
        /// The root key that wrapped it; the keyring must hold it for `unwrap` to succeed.
        public let rootKeyID: RootKeyID
    }

    /// Wraps `material` under `root` (the keyring's newest), bound to `keyARN` and `materialID`: `unwrap` succeeds
    /// only with both the same.
    public static func wrap(
        _ material: SymmetricKey,
        kind: MaterialKind,
        keyARN: String,
        materialID: MaterialID,
        under root: RootKey
    ) -> [UInt8] {
        let nonce = AES.GCM.Nonce()
        var header: [UInt8] = [version, kind.rawValue]
        header.append(contentsOf: root.id.bytes)
        header.append(contentsOf: nonce)
        let aad = additionalData(header: header, keyARN: keyARN, materialID: materialID)
        let sealed = material.withUnsafeBytes { plaintext in
            try! AES.GCM.seal(plaintext, using: root.key, nonce: nonce, authenticating: aad)
        }
        return header + sealed.ciphertext + sealed.tag
    }

    /// Reads the header without unwrapping (to tell which root key a blob needs).
    public static func header(of wrapped: [UInt8]) throws(KMSError) -> Header {
        guard wrapped.count > headerLength + tagLength, wrapped[0] == version,
            let kind = MaterialKind(rawValue: wrapped[1])
        else {
            throw .internalFailure("stored key material is not in a known format", retryable: false)
        }
        return Header(kind: kind, rootKeyID: RootKeyID(bytes: wrapped[2..<18]))
    }

    /// Unwraps with whichever root key of `keyring` wrapped the blob.
    /// Throws KeyUnavailableException when the keyring does not hold that root key, and
    /// KMSInternalException when the blob does not authenticate for this key and material id.
    public static func unwrap(
        _ wrapped: [UInt8],
        keyARN: String,
        materialID: MaterialID,
        keyring: RootKeyring
    ) throws(KMSError) -> (material: SymmetricKey, header: Header) {
        let header = try header(of: wrapped)
        guard let root = keyring.key(id: header.rootKeyID) else {
            throw KMSError(
                .keyUnavailable,
                "the key material is wrapped under root key \(header.rootKeyID), which this worker's keyring does "
                    + "not hold"
            )
        }
        let headerBytes = Array(wrapped[..<headerLength])
        let aad = additionalData(header: headerBytes, keyARN: keyARN, materialID: materialID)
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: wrapped[18..<headerLength]),
                ciphertext: wrapped[headerLength..<(wrapped.count - tagLength)],
                tag: wrapped[(wrapped.count - tagLength)...]
            )
            var plaintext = try AES.GCM.open(box, using: root.key, authenticating: aad)
            defer { plaintext.resetBytes(in: 0..<plaintext.count) }
            return (SymmetricKey(data: plaintext), header)
        } catch {
            throw .internalFailure(
                "stored key material does not authenticate for this key and material id", retryable: false)
        }
    }

    static func additionalData(header: [UInt8], keyARN: String, materialID: MaterialID) -> [UInt8] {
        let arn = Array(keyARN.utf8)
        var aad = domain
        aad.append(contentsOf: header)
        aad.appendBigEndian(UInt32(arn.count))
        aad.append(contentsOf: arn)
        aad.append(contentsOf: materialID.bytes)
        return aad
    }
}
