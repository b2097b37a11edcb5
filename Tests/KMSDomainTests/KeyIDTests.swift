import Foundation
import KMSDomain
import Testing

@Suite struct KeyIDTests {
    @Test func parsesEitherCaseAndWritesLowercase() throws {
        let id = try #require(KeyID("1234ABCD-12ab-34cd-56EF-1234567890ab"))
        #expect(id.description == "1234abcd-12ab-34cd-56ef-1234567890ab")
        #expect(KeyID(id.description) == id)
        #expect(try KeyID(parsing: "1234abcd-12ab-34cd-56ef-1234567890ab") == id)
    }

    @Test(arguments: [
        "", "1234abcd", "1234abcd-12ab-34cd-56ef-1234567890a", "1234abcd-12ab-34cd-56ef-1234567890abc",
        "1234abcd_12ab-34cd-56ef-1234567890ab", "1234abcg-12ab-34cd-56ef-1234567890ab",
        "{1234abcd-12ab-34cd-56ef-1234567890ab}", "1234abcd12ab34cd56ef1234567890ab",
    ])
    func refusesWhatIsNoUUID(_ text: String) {
        #expect(KeyID(text) == nil)
        #expect(!KeyID.isValid(text))
        #expect(throws: KMSError.validation("'\(text.prefix(64))' is not a key id (a UUID)")) {
            try KeyID(parsing: text)
        }
    }

    @Test func theSixteenBytesAreTheTextsHexInOrder() throws {
        let id = try #require(KeyID("00112233-4455-6677-8899-aabbccddeeff"))
        let expected: [UInt8] = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
        ]
        #expect(id.bytes == expected)
        #expect(KeyID(bytes: id.bytes) == id)
    }

    /// Byte order is PostgreSQL's order of uuid, and the lowercase text's order too: ListKeys
    /// pages the same whichever of them is compared.
    @Test func ordersByBytesWhichIsTheLowercaseTextsOrder() {
        let ids = (0..<500).map { _ in KeyID.random() }
        #expect(ids.sorted().map(\.description) == ids.map(\.description).sorted())
        #expect(ids.sorted().map(\.bytes) == ids.map(\.bytes).sorted { $0.lexicographicallyPrecedes($1) })
        let digit = KeyID("90000000-0000-4000-8000-000000000000")!
        let letter = KeyID("a0000000-0000-4000-8000-000000000000")!
        #expect(digit < letter)
    }
}
