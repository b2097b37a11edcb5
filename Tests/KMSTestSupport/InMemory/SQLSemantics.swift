import Foundation

/// What PostgreSQL does to the values the stores send it, so that the in-memory store answers
/// exactly as the real one: `timestamptz` keeps microseconds, `text` compares byte by byte
/// (the test cluster and kmsd's databases use the C collation), `uuid` orders by its bytes
/// (`KeyID`'s order), and a negative LIMIT or OFFSET is an error.
enum SQL {
    /// postgres-nio sends a Date as whole microseconds since 2000-01-01, truncated toward zero,
    /// and reads it back from them: the Date a store gets back for `date`.
    static func timestamptz(_ date: Date) -> Date {
        let start = Date(timeIntervalSince1970: 946_684_800)
        let micros = Int64(date.timeIntervalSince(start) * 1_000_000)
        return Date(timeInterval: Double(micros) / 1_000_000, since: start)
    }

    static func timestamptz(_ date: Date?) -> Date? { date.map { Self.timestamptz($0) } }

    /// `date + seconds` as PostgreSQL computes it: in whole microseconds.
    static func timestamptz(_ date: Date, plusSeconds seconds: Int64) -> Date {
        let start = Date(timeIntervalSince1970: 946_684_800)
        let micros = Int64(date.timeIntervalSince(start) * 1_000_000) + seconds * 1_000_000
        return Date(timeInterval: Double(micros) / 1_000_000, since: start)
    }

    /// PostgreSQL refuses a negative LIMIT or OFFSET.
    static func checkPage(limit: Int, offset: Int = 0) throws {
        guard limit >= 0 else { throw InMemoryDatabase.Refused("LIMIT must not be negative") }
        guard offset >= 0 else { throw InMemoryDatabase.Refused("OFFSET must not be negative") }
    }

    /// bytea's order: byte by byte, a prefix first.
    static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }
}

/// A `text` value as the C collation compares it: equal only byte for byte (Swift's String
/// equality would merge canonically equivalent spellings that PostgreSQL keeps apart), ordered
/// by bytes, which for UTF-8 is code point order.
struct SQLText: Hashable, Comparable, Sendable {
    let value: String

    init(_ value: String) { self.value = value }

    static func == (a: SQLText, b: SQLText) -> Bool { a.value.utf8.elementsEqual(b.value.utf8) }

    static func < (a: SQLText, b: SQLText) -> Bool { a.value.utf8.lexicographicallyPrecedes(b.value.utf8) }

    func hash(into hasher: inout Hasher) {
        for byte in self.value.utf8 { hasher.combine(byte) }
    }
}
