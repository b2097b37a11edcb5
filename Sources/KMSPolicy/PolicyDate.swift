import Foundation

/// Dates in policies and requests: epoch seconds, or ISO 8601 as a full date (2023-11-14) or a
/// date and time with a zone (2023-11-14T22:13:20Z, with an optional fraction, or +01:00).
enum PolicyDate {
    static func parse(_ text: String) -> Double? {
        if let seconds = Double(text) { return seconds }
        let utf8 = Array(text.utf8)
        // Anything not shaped like a date is refused here, without building a formatter
        // (tens of microseconds each) for every word a request or policy holds.
        guard utf8.count >= 8, utf8[0..<4].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        if utf8.count >= 10, let seconds = iso8601(utf8) { return seconds }
        // Rarer spellings Foundation accepts: so a policy stored before this parser existed
        // still reads the same.
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text)?.timeIntervalSince1970
    }

    /// YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM).
    static func iso8601(_ s: [UInt8]) -> Double? {
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= s.count else { return nil }
            var value = 0
            for index in range {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(s[index]) else { return nil }
                value = value * 10 + Int(s[index] - UInt8(ascii: "0"))
            }
            return value
        }
        guard s.count >= 10, s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        let date = Double(daysSince1970(year: year, month: month, day: day) * 86_400)
        if s.count == 10 { return date }
        guard s.count >= 20, s[10] == UInt8(ascii: "T"), s[13] == UInt8(ascii: ":"), s[16] == UInt8(ascii: ":"),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if s[index] == UInt8(ascii: ".") {
            var scale = 0.1
            index += 1
            let start = index
            while index < s.count, let digit = number(index..<(index + 1)) {
                fraction += Double(digit) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        guard index < s.count else { return nil }
        if s[index] == UInt8(ascii: "Z"), index + 1 == s.count {
            offset = 0
        } else if s[index] == UInt8(ascii: "+") || s[index] == UInt8(ascii: "-"), index + 6 == s.count,
            s[index + 3] == UInt8(ascii: ":"),
            let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)), hours < 24,
            minutes < 60
        {
            offset = (hours * 3600 + minutes * 60) * (s[index] == UInt8(ascii: "+") ? 1 : -1)
        } else {
            return nil
        }
        return date + Double(hour * 3600 + minute * 60 + second - offset) + fraction
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
