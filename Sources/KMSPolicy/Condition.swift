import Foundation

/// One condition: `"ForAnyValue:StringLikeIfExists": {"kms:EncryptionContext:app": ["a*"]}`
/// for one key.
public struct Condition: Sendable, Hashable {
    public enum SetForm: Sendable, Hashable {
        case single, forAnyValue, forAllValues
    }

    public enum Test: String, Sendable, Hashable, CaseIterable {
        case stringEquals = "StringEquals", stringNotEquals = "StringNotEquals"
        case stringEqualsIgnoreCase = "StringEqualsIgnoreCase", stringNotEqualsIgnoreCase = "StringNotEqualsIgnoreCase"
        case stringLike = "StringLike", stringNotLike = "StringNotLike"
        case arnEquals = "ArnEquals", arnNotEquals = "ArnNotEquals", arnLike = "ArnLike", arnNotLike = "ArnNotLike"
        case numericEquals = "NumericEquals", numericNotEquals = "NumericNotEquals"
        case numericLessThan = "NumericLessThan", numericLessThanEquals = "NumericLessThanEquals"
        case numericGreaterThan = "NumericGreaterThan", numericGreaterThanEquals = "NumericGreaterThanEquals"
        case dateEquals = "DateEquals", dateNotEquals = "DateNotEquals"
        case dateLessThan = "DateLessThan", dateLessThanEquals = "DateLessThanEquals"
        case dateGreaterThan = "DateGreaterThan", dateGreaterThanEquals = "DateGreaterThanEquals"
        case bool = "Bool"
        case ipAddress = "IpAddress", notIpAddress = "NotIpAddress"
        case null = "Null"

        /// The Not* operators: true when the request value matches none of the policy values.
        var isNegated: Bool {
            switch self {
            case .stringNotEquals, .stringNotEqualsIgnoreCase, .stringNotLike, .arnNotEquals, .arnNotLike,
                 .numericNotEquals, .dateNotEquals, .notIpAddress:
                return true
            default:
                return false
            }
        }
    }

    public let test: Test
    public let setForm: SetForm
    public let ifExists: Bool
    public let key: String
    public let values: [String]

    /// Parses an operator name with its optional set prefix and IfExists suffix.
    static func parseOperator(_ name: String) -> (Test, SetForm, Bool)? {
        var rest = Substring(name)
        var form = SetForm.single
        if rest.hasPrefix("ForAnyValue:") {
            form = .forAnyValue
            rest = rest.dropFirst("ForAnyValue:".count)
        } else if rest.hasPrefix("ForAllValues:") {
            form = .forAllValues
            rest = rest.dropFirst("ForAllValues:".count)
        }
        var ifExists = false
        if rest.hasSuffix("IfExists") {
            ifExists = true
            rest = rest.dropLast("IfExists".count)
        }
        guard let test = Test(rawValue: String(rest)), !(test == .null && (ifExists || form != .single)) else { return nil }
        return (test, form, ifExists)
    }

    func holds(in context: RequestContext) -> Bool {
        let present = context.value(self.key)
        if self.test == .null {
            let isNull = present == nil || present!.isEmpty
            return self.values.contains { ($0.lowercased() == "true") == isNull }
        }
        guard let requestValues = present, !requestValues.isEmpty else {
            // Absent key: IfExists and ForAllValues hold vacuously; a Not* operator holds since
            // nothing equals; anything else fails.
            switch self.setForm {
            case .forAllValues: return true
            case .forAnyValue: return false
            case .single: return self.ifExists || self.test.isNegated
            }
        }
        switch self.setForm {
        case .single:
            return self.matches(requestValues[0])
        case .forAnyValue:
            return requestValues.contains { self.matches($0) }
        case .forAllValues:
            return requestValues.allSatisfy { self.matches($0) }
        }
    }

    /// Whether one request value satisfies the operator against the policy's values (any of
    /// them for positive operators, none of them for Not* operators).
    private func matches(_ value: String) -> Bool {
        let any = self.values.contains { self.positiveMatch(value, $0) }
        return self.test.isNegated ? !any : any
    }

    private func positiveMatch(_ value: String, _ expected: String) -> Bool {
        switch self.test {
        case .stringEquals, .stringNotEquals:
            return value == expected
        case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase:
            return value.lowercased() == expected.lowercased()
        case .stringLike, .stringNotLike:
            return Wildcard.matches(pattern: expected, value)
        case .arnEquals, .arnNotEquals, .arnLike, .arnNotLike:
            return Wildcard.matchesARN(pattern: expected, value)
        case .numericEquals, .numericNotEquals:
            return Self.compare(Double(value), Double(expected)) { $0 == $1 }
        case .numericLessThan: return Self.compare(Double(value), Double(expected)) { $0 < $1 }
        case .numericLessThanEquals: return Self.compare(Double(value), Double(expected)) { $0 <= $1 }
        case .numericGreaterThan: return Self.compare(Double(value), Double(expected)) { $0 > $1 }
        case .numericGreaterThanEquals: return Self.compare(Double(value), Double(expected)) { $0 >= $1 }
        case .dateEquals, .dateNotEquals:
            return Self.compare(PolicyDate.parse(value), PolicyDate.parse(expected)) { $0 == $1 }
        case .dateLessThan: return Self.compare(PolicyDate.parse(value), PolicyDate.parse(expected)) { $0 < $1 }
        case .dateLessThanEquals: return Self.compare(PolicyDate.parse(value), PolicyDate.parse(expected)) { $0 <= $1 }
        case .dateGreaterThan: return Self.compare(PolicyDate.parse(value), PolicyDate.parse(expected)) { $0 > $1 }
        case .dateGreaterThanEquals: return Self.compare(PolicyDate.parse(value), PolicyDate.parse(expected)) { $0 >= $1 }
        case .bool:
            return value.lowercased() == expected.lowercased()
        case .ipAddress, .notIpAddress:
            guard let range = IPAddressRange(expected), let address = IPAddressRange.parseAddress(value) else { return false }
            return range.contains(address)
        case .null:
            return false
        }
    }

    private static func compare<T>(_ a: T?, _ b: T?, _ relation: (T, T) -> Bool) -> Bool {
        guard let a, let b else { return false }
        return relation(a, b)
    }
}

/// Dates in policies: ISO 8601 (with or without time or fraction) or epoch seconds.
enum PolicyDate {
    static func parse(_ text: String) -> Double? {
        if let seconds = Double(text) { return seconds }
        let full = ISO8601DateFormatter()
        if let date = full.date(from: text) { return date.timeIntervalSince1970 }
        full.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = full.date(from: text) { return date.timeIntervalSince1970 }
        full.formatOptions = [.withFullDate]
        return full.date(from: text)?.timeIntervalSince1970
    }
}
