import Foundation
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

    /// Foundation's own form, lowercased, is the oracle.
    @Test func writesAUUIDAsFoundationDoesInLowercase() {
        for _ in 0..<1000 {
            let uuid = UUID()
            #expect(withUnsafeBytes(of: uuid.uuid) { Hex.uuidText($0) } == uuid.uuidString.lowercased())
        }
        let edges: [[UInt8]] = [Array(repeating: 0, count: 16), Array(repeating: 0xff, count: 16), Array(0..<16)]
        for bytes in edges {
            let uuid = UUID(
                uuid: (
                    bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                    bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
                ))
            #expect(Hex.uuidText(bytes) == uuid.uuidString.lowercased())
            #expect(KeyID(uuid).description == uuid.uuidString.lowercased())
        }
    }

    /// `Hex.uuid`'s 16 bytes, in the order the text writes them.
    static func uuidBytes(_ text: String) -> [UInt8]? {
        Hex.uuid(text).map { uuid in withUnsafeBytes(of: uuid) { Array($0) } }
    }

    /// Foundation's parser is the oracle: the same bytes for any case, and nil for what it refuses.
    @Test func readsAUUIDAsFoundationDoes() {
        for _ in 0..<1000 {
            let uuid = UUID()
            let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
            #expect(Self.uuidBytes(uuid.uuidString) == bytes)
            #expect(Self.uuidBytes(uuid.uuidString.lowercased()) == bytes)
            #expect(Hex.uuid(uuid.uuidString).map { UUID(uuid: $0) } == uuid)
            #expect(KeyID(uuid.uuidString) == KeyID(uuid))
        }
        let good = "0123abcd-4567-89ef-ABCD-0123456789aB"
        #expect(Self.uuidBytes(good) == UUID(uuidString: good).map { u in withUnsafeBytes(of: u.uuid) { Array($0) } })
        for bad in [
            "", "0123abcd-4567-89ef-abcd-0123456789a", "0123abcd-4567-89ef-abcd-0123456789abc",
            "0123abcd 4567-89ef-abcd-0123456789ab", "0123abcd-4567-89ef-abcd-0123456789ag",
            "0123abcd-456-789ef-abcd-0123456789ab", "0123abcd-4567-89ef-abcd-0123456789\u{e9}",
        ] {
            #expect(Self.uuidBytes(bad) == nil, "\(bad)")
            #expect(UUID(uuidString: bad) == nil, "\(bad)")
        }
    }
}
