import KMSDomain
import Testing

@Suite struct ASCIICaseTests {
    @Test func namesMatchWithoutASCIICaseOnly() {
        #expect(ASCIICase.equal("X-Amz-Date", lowercase: "x-amz-date"))
        #expect(ASCIICase.equal("HOST", lowercase: "host"))
        #expect(ASCIICase.equal("", lowercase: ""))
        #expect(!ASCIICase.equal("Host", lowercase: "hosts"))
        #expect(!ASCIICase.equal("X-Amz-Dat", lowercase: "x-amz-date"))
        #expect(!ASCIICase.equal("x-amz-datE", lowercase: "x-amz-dat3"))
        // The Kelvin sign lowercases to "k" in Unicode, and is three bytes: never an ASCII "k".
        #expect(!ASCIICase.equal("\u{212A}", lowercase: "k"))
        // A name longer than a small string's 15 bytes, compared in place too.
        #expect(ASCIICase.equal("X-Amz-Content-SHA256", lowercase: "x-amz-content-sha256"))
        #expect(!ASCIICase.equal("X-Amz-Content-SHA256", lowercase: "x-amz-content-sha255"))
    }

    @Test func loweringChangesASCIICapitalsOnly() {
        #expect(ASCIICase.lowered("X-Amz-Content-SHA256") == "x-amz-content-sha256")
        #expect(ASCIICase.lowered("host") == "host")
        #expect(ASCIICase.lowered("\u{212A}Ü-A") == "\u{212A}Ü-a")
        #expect(ASCIICase.lowered("") == "")
    }

    @Test func theUTF8BytesAreTheTextsWhateverItsForm() {
        let texts = ["", "host", "X-Amz-Content-SHA256 with more than fifteen bytes", "é\u{212A}\u{1F600}"]
        for text in texts {
            #expect(text.withUTF8Bytes { Array($0) } == Array(text.utf8))
            let slice = text.dropFirst()
            #expect(slice.withUTF8Bytes { Array($0) } == Array(slice.utf8))
        }
    }
}
