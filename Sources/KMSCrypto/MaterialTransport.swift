import Crypto
import Foundation
import KMSDomain

/// Multi-Region key material on its way to a region served by another deployment, whose
/// kms-cryptod holds other root keys (README, "Multi-Region keys across deployments").
///
/// Each worker has a transport key: a P-384 key pair derived with HKDF from a root key, so that
/// its private half is as secret as the root key, lives only in that worker and needs no
/// storage (the worker stays stateless); its public half and fingerprint are what the sending
/// deployment is configured with. The sender seals one material version for it with HPKE
/// (RFC 9180, base mode: DHKEM(P-384, HKDF-SHA384), HKDF-SHA384, AES-256-GCM): a fresh
/// ephemeral key per version, no secret shared in advance, and the associated data binds the
/// material ARN (account and `mrk-` id), the material id, the source and destination regions
/// and the key spec (and, for the versions sent with ReplicateKey, a digest of the replica's
/// requested policy, description and tags), so a sealed version copied to another key, version
/// or region, or a replica's policy changed on the way, does not open.
///
///     version (1) | kind (1) | transport key fingerprint (32) | encapsulated key (97) | ciphertext | tag (16)
public enum MaterialTransport {
    static let version: UInt8 = 1
    static let fingerprintLength = 32
    static let encapsulatedLength = 97
    static let headerLength = 1 + 1 + fingerprintLength
    static let ciphersuite = HPKE.Ciphersuite.P384_SHA384_AES_GCM_256
    static let info = Data("kms/mrk-transport/v1".utf8)
    static let derivationSalt = Array("kms/transport-key/v1/P-384".utf8)

    /// What a sealed version is bound to, besides the material ARN and id.
    public struct Binding: Sendable, Equatable {
        /// The public `mrk-` id.
        public var mrkID: String
        /// The primary's region, which sent it.
        public var sourceRegion: String
        /// The replica's region, whose worker alone opens it.
        public var destinationRegion: String
        /// The key's spec; the opened material is checked against it.
        public var keySpec: KeySpec
        /// The digest of the replica's metadata, policy, description and tags for versions sent
        /// with ReplicateKey; empty for later ones.
        public var replicaDigest: [UInt8]

        /// A binding of these fields.
        public init(
            mrkID: String, sourceRegion: String, destinationRegion: String, keySpec: KeySpec,
            replicaDigest: [UInt8] = []
        ) {
            self.mrkID = mrkID
            self.sourceRegion = sourceRegion
            self.destinationRegion = destinationRegion
            self.keySpec = keySpec
            self.replicaDigest = replicaDigest
        }
    }

    /// The transport key derived from `root`. The counter covers the negligible chance
    /// (about 2^-190) that 48 derived bytes are not a valid P-384 scalar.
    public static func transportKey(of root: RootKey) -> P384.KeyAgreement.PrivateKey {
        for counter in UInt8(0)...UInt8.max {
            let derived = HKDF<SHA384>.deriveKey(
                inputKeyMaterial: root.key, salt: derivationSalt, info: root.id.bytes + [counter],
                outputByteCount: 48)
            if let key = derived.withUnsafeBytes({ try? P384.KeyAgreement.PrivateKey(rawRepresentation: $0) }) {
                return key
            }
        }
        preconditionFailure("no P-384 scalar derived from the root key in 256 tries")
    }

    /// The public half of `root`'s transport key, DER SubjectPublicKeyInfo: what a sending
    /// deployment is configured with (`kms-cryptod transport-key` prints it).
    public static func transportPublicKeyDER(of root: RootKey) -> [UInt8] {
        Array(transportKey(of: root).publicKey.derRepresentation)
    }

    /// The SHA-256 of a transport public key's DER SubjectPublicKeyInfo.
    public static func fingerprint(ofPublicKeyDER der: some DataProtocol) -> [UInt8] {
        Array(SHA256.hash(data: der))
    }

    /// Seals `material` (of `kind`) for the worker whose transport public key is `peerPublicKeyDER`.
    public static func seal(
        _ material: SymmetricKey, kind: MaterialKind, keyARN: String, materialID: MaterialID, binding: Binding,
        peerPublicKeyDER: [UInt8]
    ) throws(KMSError) -> [UInt8] {
        let peer: P384.KeyAgreement.PublicKey
        do {
            peer = try P384.KeyAgreement.PublicKey(derRepresentation: peerPublicKeyDER)
        } catch {
            throw .validation("peer_public_key is not a P-384 public key (DER SubjectPublicKeyInfo)")
        }
        var header: [UInt8] = [version, kind.rawValue]
        header += fingerprint(ofPublicKeyDER: peerPublicKeyDER)
        let aad = additionalData(header: header, keyARN: keyARN, materialID: materialID, binding: binding)
        do {
            var sender = try HPKE.Sender(recipientKey: peer, ciphersuite: ciphersuite, info: info)
            let sealed = try material.withUnsafeBytes { try sender.seal($0, authenticating: aad) }
            return header + Array(sender.encapsulatedKey) + Array(sealed)
        } catch {
            throw .internalFailure("sealing material for the peer region failed", retryable: false)
        }
    }

    /// Opens a sealed version with the transport key of whichever root key of `keyring` it
    /// was sealed for. KeyUnavailableException when none is; InvalidCiphertextException when it
    /// does not authenticate for this key ARN, material id and binding.
    public static func open(
        _ sealed: [UInt8], keyARN: String, materialID: MaterialID, binding: Binding, keyring: RootKeyring
    ) throws(KMSError) -> (material: SymmetricKey, kind: MaterialKind) {
        guard sealed.count > headerLength + encapsulatedLength + 16, sealed[0] == version,
            let kind = MaterialKind(rawValue: sealed[1])
        else {
            throw KMSError(.invalidCiphertext, "the sealed material is not in a known format")
        }
        let wanted = Array(sealed[2..<headerLength])
        let transport = keyring.keys.reversed().lazy.map(transportKey(of:)).first {
            fingerprint(ofPublicKeyDER: $0.publicKey.derRepresentation) == wanted
        }
        guard let transport else {
            throw KMSError(
                .keyUnavailable, "the material was sealed for a transport key of a root key this worker does not hold")
        }
        let header = Array(sealed[..<headerLength])
        let aad = additionalData(header: header, keyARN: keyARN, materialID: materialID, binding: binding)
        let encapsulated = Data(sealed[headerLength..<(headerLength + encapsulatedLength)])
        do {
            var recipient = try HPKE.Recipient(
                privateKey: transport, ciphersuite: ciphersuite, info: info, encapsulatedKey: encapsulated)
            var plaintext = try recipient.open(sealed[(headerLength + encapsulatedLength)...], authenticating: aad)
            defer { plaintext.resetBytes(in: 0..<plaintext.count) }
            return (SymmetricKey(data: plaintext), kind)
        } catch {
            throw KMSError(
                .invalidCiphertext,
                "the sealed material does not authenticate for this key, material version and regions")
        }
    }

    static func additionalData(header: [UInt8], keyARN: String, materialID: MaterialID, binding: Binding) -> [UInt8] {
        var aad = Array("kms/mrk-transport/v1".utf8) + header
        for field in [keyARN, binding.mrkID, binding.sourceRegion, binding.destinationRegion, binding.keySpec.rawValue]
        {
            let bytes = Array(field.utf8)
            aad.appendBigEndian(UInt32(bytes.count))
            aad += bytes
        }
        aad.appendBigEndian(UInt32(binding.replicaDigest.count))
        aad += binding.replicaDigest
        aad += materialID.bytes
        return aad
    }
}
