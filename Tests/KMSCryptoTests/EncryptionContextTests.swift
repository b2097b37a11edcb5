import KMSCrypto
import KMSDomain
import Testing

@Suite struct EncryptionContextTests {
    @Test func orderDoesNotMatter() throws {
        var a: [String: String] = [:]
        var b: [String: String] = [:]
        for index in 0..<50 { a["k\(index)"] = "v\(index)" }
        for index in (0..<50).reversed() { b["k\(index)"] = "v\(index)" }
        #expect(try EncryptionContextEncoding.canonicalBytes(a) == (try EncryptionContextEncoding.canonicalBytes(b)))
    }

    @Test func boundariesAreUnambiguous() throws {
        let one = try EncryptionContextEncoding.canonicalBytes(["a": "bc"])
        let two = try EncryptionContextEncoding.canonicalBytes(["ab": "c"])
        let three = try EncryptionContextEncoding.canonicalBytes(["a": "b", "c": ""])
        #expect(one != two)
        #expect(one != three)
        #expect(
            try EncryptionContextEncoding.canonicalBytes([:])
                != (try EncryptionContextEncoding.canonicalBytes(["": ""])))
    }

    @Test func sortsByUTF8Bytes() throws {
        let bytes = try EncryptionContextEncoding.canonicalBytes(["é": "1", "z": "2", "A": "3"])
        // count, then "A", "z", "é" (0x41 < 0x7a < 0xc3)
        #expect(bytes[0..<4] == [0, 0, 0, 3])
        #expect(bytes[8] == 0x41)
    }

    @Test func refusesAnOversizedContext() throws {
        let large = ["k": String(repeating: "x", count: Limits.encryptionContextBytes)]
        #expect(throws: KMSError.self) { try EncryptionContextEncoding.canonicalBytes(large) }
        let fits = ["k": String(repeating: "x", count: Limits.encryptionContextBytes - 1)]
        #expect(throws: Never.self) { try EncryptionContextEncoding.canonicalBytes(fits) }
    }
}
