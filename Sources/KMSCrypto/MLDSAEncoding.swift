import KMSDomain

/// The DER forms of ML-DSA keys (RFC 9881, the IETF LAMPS ML-DSA certificates spec): a
/// SubjectPublicKeyInfo whose AlgorithmIdentifier is the NIST OID without parameters and whose
/// BIT STRING is the raw public key, and a PKCS#8 PrivateKeyInfo holding the seed alone
/// (`seed [0] IMPLICIT OCTET STRING (SIZE (32))`). Each form has one length per parameter set,
/// so encoding is a fixed prefix and parsing is a comparison with it: no general DER parser.
enum MLDSAEncoding {
    /// The length of the seed ξ of ML-DSA.KeyGen_internal.
    static let seedBytes = 32

    /// id-ml-dsa-65 (2.16.840.1.101.3.4.3.18) and id-ml-dsa-87 (…3.19), DER with tag and length.
    static func oid(_ spec: KeySpec) -> [UInt8]? {
        let arc: UInt8
        switch spec {
        case .mlDsa44: arc = 0x11
        case .mlDsa65: arc = 0x12
        case .mlDsa87: arc = 0x13
        default: return nil
        }
        return [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, arc]
    }

    /// The FIPS 204 public key length.
    static func publicKeyBytes(_ spec: KeySpec) -> Int? {
        switch spec {
        case .mlDsa44: 1312
        case .mlDsa65: 1952
        case .mlDsa87: 2592
        default: nil
        }
    }

    /// SEQUENCE { SEQUENCE { OID }, BIT STRING { 0 unused bits, raw key } }.
    static func subjectPublicKeyInfo(raw: [UInt8], spec: KeySpec) -> [UInt8] {
        spkiPrefix(spec, keyBytes: raw.count) + raw
    }

    /// The raw public key of a DER SubjectPublicKeyInfo of `spec`; anything else (another
    /// parameter set, parameters present, BER lengths, trailing bytes): nil.
    static func rawPublicKey(spki der: [UInt8], spec: KeySpec) -> [UInt8]? {
        guard let size = publicKeyBytes(spec) else { return nil }
        let prefix = spkiPrefix(spec, keyBytes: size)
        guard der.count == prefix.count + size, der.starts(with: prefix) else { return nil }
        return Array(der[prefix.count...])
    }

    /// SEQUENCE { INTEGER 0, SEQUENCE { OID }, OCTET STRING { [0] seed } }: a secret, zero it after use.
    static func pkcs8(seed: [UInt8], spec: KeySpec) -> [UInt8] {
        pkcs8Prefix(spec) + seed
    }

    /// The seed of a DER PKCS#8 ML-DSA private key of `spec` in the seed form; any other input:
    /// KMSError(.incorrectKeyMaterial, ...) saying what it is when that is plain. The expandedKey
    /// and both forms are refused: swift-crypto cannot check an expanded key against a seed.
    static func seed(pkcs8 der: [UInt8], spec: KeySpec) throws(KMSError) -> [UInt8] {
        let prefix = pkcs8Prefix(spec)
        if der.count == prefix.count + seedBytes, der.starts(with: prefix) {
            return Array(der[prefix.count...])
        }
        // The AlgorithmIdentifier follows the outer header and version 0: within the first bytes,
        // whatever the length forms.
        let head = Array(der.prefix(24))
        let found = [KeySpec.mlDsa44, .mlDsa65, .mlDsa87].first { other in
            let identifier = [0x30, 0x0b] + oid(other)!
            return (0...max(0, head.count - identifier.count)).contains { head[$0...].starts(with: identifier) }
        }
        guard let found else {
            throw KMSError(
                .incorrectKeyMaterial, "the key material is not a DER PKCS#8 ML-DSA private key (PrivateKeyInfo)")
        }
        guard found == spec else {
            throw KMSError(
                .incorrectKeyMaterial, "the key material is an \(found.rawValue) key, not an \(spec.rawValue) key")
        }
        throw KMSError(
            .incorrectKeyMaterial,
            "an \(spec.rawValue) private key must be PKCS#8 in the seed form (RFC 9881: privateKey holds "
                + "seed [0], 32 bytes), not the expandedKey or both forms (OpenSSL 3.5: -provparam "
                + "ml-dsa.output_formats=seed-only)"
        )
    }

    private static func spkiPrefix(_ spec: KeySpec, keyBytes: Int) -> [UInt8] {
        let algorithm = [0x30, UInt8(oid(spec)!.count)] + oid(spec)!
        let bitString = [0x03] + length(keyBytes + 1) + [0x00]
        return [0x30] + length(algorithm.count + bitString.count + keyBytes) + algorithm + bitString
    }

    private static func pkcs8Prefix(_ spec: KeySpec) -> [UInt8] {
        let algorithm = [0x30, UInt8(oid(spec)!.count)] + oid(spec)!
        let privateKey: [UInt8] = [0x04, UInt8(2 + seedBytes), 0x80, UInt8(seedBytes)]
        let body = [0x02, 0x01, 0x00] + algorithm + privateKey
        return [0x30] + length(body.count + seedBytes) + body
    }

    /// A DER length: short form below 128, else the long form (two bytes suffice here).
    private static func length(_ count: Int) -> [UInt8] {
        switch count {
        case ..<0x80: [UInt8(count)]
        case ..<0x100: [0x81, UInt8(count)]
        default: [0x82, UInt8(count >> 8), UInt8(count & 0xff)]
        }
    }
}
