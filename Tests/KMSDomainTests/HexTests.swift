import KMSDomain
import Testing

@Suite struct HexTests {
    @Test func encodesLowercaseTwoDigitsPerByte() {
        #expect(Hex.encode([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Hex.encode([UInt8]()) == "")
        #expect(Hex.encode((0...255).map(UInt8.init)).count == 512)
        // A sequence that is not a collection.
        #expect(Hex.encode(AnySequence([0xde, 0xad] as [UInt8])) == "dead")
    }

    @Test func decodesEitherCaseAndRefusesAnythingElse() {
        #expect(Hex.decode("000FA0ff") == [0x00, 0x0f, 0xa0, 0xff])
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("0g") == nil)
        let all = (0...255).map(UInt8.init)
        #expect(Hex.decode(Hex.encode(all)) == all)
    }
}
