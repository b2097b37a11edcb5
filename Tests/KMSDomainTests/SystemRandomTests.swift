import KMSDomain
import Testing

@Suite struct SystemRandomTests {
    /// Every length is filled to its end, across the 8-byte steps the standard generator takes
    /// and the 256 bytes getrandom(2) promises in one piece.
    @Test(arguments: [0, 1, 7, 8, 9, 16, 28, 60, 255, 256, 257, 1024, 4096])
    func fillsEveryLength(count: Int) {
        let first = SystemRandom.bytes(count)
        let second = SystemRandom.bytes(count)
        #expect(first.count == count)
        #expect(second.count == count)
        guard count >= 16 else { return }
        // 128 bits or more: equal draws or an untouched (zero) tail would mean a broken generator.
        #expect(first != second)
        #expect(first.suffix(16) != [UInt8](repeating: 0, count: 16))
        #expect(second.suffix(16) != [UInt8](repeating: 0, count: 16))
    }

    /// Bytes spread over all values: a buffer filled only in part, or from a few bits, fails this.
    @Test func bytesTakeEveryValue() {
        let bytes = SystemRandom.bytes(64 * 1024)
        var seen = [Int](repeating: 0, count: 256)
        for byte in bytes { seen[Int(byte)] += 1 }
        // 256 expected per value; a uniform source stays far inside these bounds.
        #expect(seen.allSatisfy { $0 > 128 && $0 < 400 })
    }

    @Test func materialIDsAreFresh() {
        let ids = (0..<100).map { _ in MaterialID.random() }
        #expect(Set(ids).count == 100)
        #expect(ids.allSatisfy { $0.bytes.count == MaterialID.byteCount })
    }
}
