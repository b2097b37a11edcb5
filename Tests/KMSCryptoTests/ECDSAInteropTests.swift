import Crypto
import KMSCrypto
import KMSDomain
import Testing

/// NIST-curve ECDSA runs on swift-crypto (BoringSSL) while the keys are parsed by OpenSSL:
/// signatures the openssl command line made verify (RAW and DIGEST), and the encodings OpenSSL
/// refuses (anything but the signature's own DER) are refused here too, on every curve.
@Suite struct ECDSAInteropTests {
    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`, `openssl pkey -pubout
    /// -outform DER`, `openssl dgst -sha256 -sign` of `message` (P-384: sha384, P-521: sha512).
    struct Fixture: Sendable, CustomTestStringConvertible {
        let spec: KeySpec
        let algorithm: SigningAlgorithm
        let spki: String
        let signature: String
        var testDescription: String { self.spec.rawValue }
    }

    static let message = Array("the quick brown fox signs a message".utf8)

    static let fixtures = [
        Fixture(
            spec: .eccNistP256, algorithm: .ecdsaSha256,
            spki: "3059301306072a8648ce3d020106082a8648ce3d0301070342000497a8a694ce6da0143120148a0ee00c37591b3f"
                + "891f172f72e3575ff0cd551fa299404c08a681f04da0c051d23fddbbdff5f8371b642710cc9c6592365732d262",
            signature: "30450221008840664174a66332a2d1d930243007ee4b609fbfc06fe997c770cd14693e0282022009ae20b5213f8473"
                + "449cee5f4e33055c57cdbf0b378cdb9006806aa3214cf550"),
        Fixture(
            spec: .eccNistP384, algorithm: .ecdsaSha384,
            spki: "3076301006072a8648ce3d020106052b8104002203620004793b4020ae354b024aa619837fecb78a8d4e527dd51b6a14d798"
                + "962de8f1b4d5a29f659aca912cf37b739cdd84e8039c5db0695c722655455cd7d6a6b010570efee371389e880ed11054ca"
                + "dac33c15256d3d5f4d8015b48cb47fbfb288d89728",
            signature: "306502300bdd03e88f21c970068d544f2eddfd52312541ceddef0301d947fdf43190356ccd5e78e2dc8d5ea4fc3c97"
                + "9c95c98cd7023100d82fcd503c4047d6ad77d2846d897191301aebea4a9086e6cf9a2f4de110983e661456df52f42fc54141"
                + "5d84fa3eb7be"),
        Fixture(
            spec: .eccNistP521, algorithm: .ecdsaSha512,
            spki: "30819b301006072a8648ce3d020106052b81040023038186000400906a6123611deac9238e75ca3914f8d4fb012a6c1af4f5"
                + "bcd34bde2d2a5b80a7187b4059903e042b215dd705c38d34c8f375874cdbb959c3bf19a4e1692668919001fa1a1abfc09349"
                + "60ecc3308db980d94188d92a65a711d16c0660f9fa3a6e85a3bd39769dfaa82ca28414590d20e4ec7a37e8cbc00764335aef"
                + "22851b7d6b876f39",
            signature: "308188024201296a689c4aebcce3d6821b46c61f6ac7b12fe3435379d831603843fa03adfcab2a0786e7adf7c60b4e"
                + "289699746ea4dcdf98f7052a05eef83854f244fcb7148ea102420145d3bf9cf4eeda44e10833dafcf0836d24fc8e8a0120da"
                + "0aae66f500e6e58a57dedc49d18d9a0cb780e9c4b25fec0b70a4bd90bff347fb7541a4848cad0428fc0a"),
    ]

    static func bytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    static func digest(_ algorithm: SigningAlgorithm) -> [UInt8] {
        switch algorithm {
        case .ecdsaSha384: Array(SHA384.hash(data: message))
        case .ecdsaSha512: Array(SHA512.hash(data: message))
        default: Array(SHA256.hash(data: message))
        }
    }

    @Test(arguments: fixtures)
    func signaturesOfTheOpenSSLCommandLineVerify(_ fixture: Fixture) throws {
        let key = try PublicKey(spkiDER: Self.bytes(fixture.spki), spec: fixture.spec)
        let signature = Self.bytes(fixture.signature)
        #expect(try key.verify(signature, message: Self.message, messageType: .raw, algorithm: fixture.algorithm))
        #expect(
            try key.verify(
                signature, message: Self.digest(fixture.algorithm), messageType: .digest, algorithm: fixture.algorithm))
        #expect(
            try !key.verify(signature, message: Self.message + [0], messageType: .raw, algorithm: fixture.algorithm))
        for position in [8, signature.count / 2, signature.count - 1] {
            var flipped = signature
            flipped[position] ^= 0x01
            #expect(
                try !key.verify(flipped, message: Self.message, messageType: .raw, algorithm: fixture.algorithm))
        }
    }

    /// Only the signature's own DER: OpenSSL re-encodes (r, s) and compares, and so does this path.
    @Test(arguments: fixtures)
    func encodingsOtherThanTheCanonicalDERAreRefused(_ fixture: Fixture) throws {
        let key = try PublicKey(spkiDER: Self.bytes(fixture.spki), spec: fixture.spec)
        let signature = Self.bytes(fixture.signature)
        func refused(_ bytes: [UInt8]) throws -> Bool {
            try !key.verify(bytes, message: Self.message, messageType: .raw, algorithm: fixture.algorithm)
        }
        // A trailing byte, and a byte short.
        #expect(try refused(signature + [0]))
        #expect(try refused(Array(signature.dropLast())))
        // The SEQUENCE's length in a longer form than needed (P-256 and P-384: short form; P-521: 0x81 nn).
        let header = signature[1] == 0x81 ? 3 : 2
        let length = signature.count - header
        #expect(try refused([0x30, 0x82, UInt8(length >> 8), UInt8(length & 0xff)] + signature[header...]))
        // r padded with a needless zero byte (its length and the SEQUENCE's grown by one).
        let rLength = Int(signature[header + 1])
        let r = signature[(header + 2)..<(header + 2 + rLength)]
        let rest = signature[(header + 2 + rLength)...]
        let body = [0x02, UInt8(rLength + 1), 0x00] + r + rest
        let sequence = body.count < 0x80 ? [0x30, UInt8(body.count)] : [0x30, 0x81, UInt8(body.count)]
        #expect(try refused(sequence + body))
        // The same (r, s) as 64, 96 or 132 raw bytes (IEEE P1363), which AWS does not take either.
        #expect(try refused(Array(repeating: 1, count: signature.count)))
    }

    /// Keys made here sign with swift-crypto and their signatures verify with the OpenSSL-parsed
    /// public key made from the same DER, on every curve, RAW and DIGEST.
    @Test(arguments: [KeySpec.eccNistP256, .eccNistP384, .eccNistP521])
    func ourSignaturesVerifyUnderAPublicKeyParsedFromItsDER(spec: KeySpec) throws {
        let key = try PrivateKey.generate(spec)
        let algorithm = spec.signingAlgorithms(usage: .signVerify)[0]
        let parsed = try PublicKey(spkiDER: key.publicKeyDER, spec: spec)
        let raw = try key.sign(Self.message, messageType: .raw, algorithm: algorithm)
        let digest = try key.sign(Self.digest(algorithm), messageType: .digest, algorithm: algorithm)
        for signature in [raw, digest] {
            #expect(try parsed.verify(signature, message: Self.message, messageType: .raw, algorithm: algorithm))
        }
        // ECDSA draws a new nonce each time.
        #expect(raw != digest)
    }
}
