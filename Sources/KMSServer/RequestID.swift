import Synchronization

/// Request ids, in the UUID text form callers and CloudTrail readers expect, made without a
/// system call: Foundation's `UUID()` opens, reads and closes /dev/urandom each time on Linux,
/// which was 7% of kmsd's CPU under load. An id is a random 64-bit prefix drawn once per process
/// and a counter, laid out as an RFC 9562 version 8 (custom) UUID. Ids are unique, which is all
/// they are for; they are not secrets and need not be unpredictable.
enum RequestID {
    private static let prefix = UInt64.random(in: .min ... .max)
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let count = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        // Version 8 in the high nibble of byte 6, the variant (0b10) in the top bits of byte 8.
        let high = (Self.prefix & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_8000
        let low = (count & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return format(high, low)
    }

    static func format(_ high: UInt64, _ low: UInt64) -> String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 36) { text in
            digits.withUTF8Buffer { digits in
                var index = 0
                func put(_ value: UInt64, nibbles: Int, from shift: Int) {
                    for nibble in stride(from: shift, to: shift - 4 * nibbles, by: -4) {
                        text[index] = digits[Int((value >> UInt64(nibble - 4)) & 0xF)]
                        index += 1
                    }
                }
                func dash() {
                    text[index] = UInt8(ascii: "-")
                    index += 1
                }
                put(high, nibbles: 8, from: 64)
                dash()
                put(high, nibbles: 4, from: 32)
                dash()
                put(high, nibbles: 4, from: 16)
                dash()
                put(low, nibbles: 4, from: 64)
                dash()
                put(low, nibbles: 12, from: 48)
            }
            return 36
        }
    }
}
