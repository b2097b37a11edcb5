import Crypto
import KMSCrypto
import KMSDomain
import Testing

@Suite struct MessageAuthenticationTests {
    /// RFC 4231 test cases 1, 2 and 6 (7 is long; 5 is a truncated tag, which KMS never makes).
    static let vectors: [(key: [UInt8], data: [UInt8], tags: [MacAlgorithm: String])] = [
        (
            [UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
            [
                .hmacSha224: "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                .hmacSha256: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                .hmacSha384:
                    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                .hmacSha512:
                    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4"
                    + "be9d914eeb61f1702e696c203a126854",
            ]
        ),
        (
            Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
            [
                .hmacSha224: "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                .hmacSha256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                .hmacSha384:
                    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
                .hmacSha512:
                    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fd"
                    + "caeab1a34d4a6b4b636e070a38bce737",
            ]
        ),
        (
            [UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            [
                .hmacSha224: "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                .hmacSha256: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                .hmacSha384:
                    "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
                .hmacSha512:
                    "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e52"
                    + "95e64f73f63f0aec8b915a985d786598",
            ]
        ),
    ]

    @Test(arguments: MacAlgorithm.allCases)
    func rfc4231KnownAnswers(algorithm: MacAlgorithm) throws {
        for vector in Self.vectors {
            let key = SymmetricKey(data: vector.key)
            let expected = hex(vector.tags[algorithm]!)
            let tag = MessageAuthentication.mac(algorithm, key: key, message: vector.data)
            #expect(tag == expected)
            #expect(tag.count == algorithm.macBytes)
            #expect(MessageAuthentication.verify(algorithm, key: key, message: vector.data, mac: expected))
        }
    }

    /// HMAC_256 runs on its own code over OpenSSL's SHA-256: the same tags as swift-crypto's
    /// HMAC<SHA256> for keys shorter than, as long as and longer than SHA-256's 64-byte block.
    @Test func hmacSha256IsSwiftCryptosHMAC() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<400 {
            let keyBytes = (0..<[0, 1, 32, 63, 64, 65, 131, 200][round % 8]).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let message = (0..<(round * 7 % 300)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let key = SymmetricKey(data: keyBytes)
            let expected = Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
            #expect(MessageAuthentication.mac(.hmacSha256, key: key, message: message) == expected)
        }
    }

    @Test(arguments: MacAlgorithm.allCases)
    func aWrongTagIsFalse(algorithm: MacAlgorithm) throws {
        let key = SymmetricKey(size: .bits256)
        let message = Array("message".utf8)
        let tag = MessageAuthentication.mac(algorithm, key: key, message: message)
        var flipped = tag
        flipped[0] ^= 0x01
        #expect(!MessageAuthentication.verify(algorithm, key: key, message: message, mac: flipped))
        #expect(!MessageAuthentication.verify(algorithm, key: key, message: message, mac: Array(tag.dropLast())))
        #expect(!MessageAuthentication.verify(algorithm, key: key, message: message, mac: tag + [0]))
        #expect(!MessageAuthentication.verify(algorithm, key: key, message: message, mac: []))
        #expect(!MessageAuthentication.verify(algorithm, key: SymmetricKey(size: .bits256), message: message, mac: tag))
        #expect(
            MessageAuthentication.verify(
                algorithm, key: key, message: [], mac: MessageAuthentication.mac(algorithm, key: key, message: [])))
    }
}
