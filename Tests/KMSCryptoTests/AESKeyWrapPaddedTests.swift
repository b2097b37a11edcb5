import Crypto
import KMSCrypto
import KMSDomain
import Testing

@Suite struct AESKeyWrapPaddedTests {
    static let kek = SymmetricKey(data: hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"))

    /// RFC 5649 §6, with a 192-bit KEK: a 20-byte key and a 7-byte key.
    @Test(arguments: [
        (
            "c37b7e6492584340bed12207808941155068f738",
            "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"
        ),
        ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
    ])
    func rfc5649KnownAnswers(key: String, wrapped: String) throws {
        #expect(try AESKeyWrapPadded.wrap(hex(key), kek: Self.kek) == hex(wrapped))
        #expect(try AESKeyWrapPadded.unwrap(hex(wrapped), kek: Self.kek) == hex(key))
    }

    @Test func roundTripsEveryLengthWithEveryKEKSize() throws {
        for size in [SymmetricKeySize.bits128, .bits192, .bits256] {
            let kek = SymmetricKey(size: size)
            for count in [1, 7, 8, 9, 16, 31, 32, 33, 1217] {
                let key = (0..<count).map { _ in UInt8.random(in: 0...255) }
                let wrapped = try AESKeyWrapPadded.wrap(key, kek: kek)
                #expect(wrapped.count == (count + 7) / 8 * 8 + 8)
                #expect(try AESKeyWrapPadded.unwrap(wrapped, kek: kek) == key)
            }
        }
    }

    @Test func integrityFailuresAreInvalidCiphertext() throws {
        let wrapped = hex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")
        for index in [0, 8, wrapped.count - 1] {
            var tampered = wrapped
            tampered[index] ^= 0x01
            expectKMSError(.invalidCiphertext) { try AESKeyWrapPadded.unwrap(tampered, kek: Self.kek) }
        }
        expectKMSError(.invalidCiphertext) { try AESKeyWrapPadded.unwrap(wrapped, kek: SymmetricKey(size: .bits192)) }
        expectKMSError(.invalidCiphertext) { try AESKeyWrapPadded.unwrap(Array(wrapped.dropLast(8)), kek: Self.kek) }
        for count in [0, 8, 15, 17] {
            expectKMSError(.invalidCiphertext) {
                try AESKeyWrapPadded.unwrap(Array(wrapped.prefix(count)), kek: Self.kek)
            }
        }
        expectKMSError(.validation) { try AESKeyWrapPadded.wrap([], kek: Self.kek) }
        expectKMSError(.validation) {
            try AESKeyWrapPadded.wrap([1], kek: SymmetricKey(data: [UInt8](repeating: 1, count: 20)))
        }
    }
}
