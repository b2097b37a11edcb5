extension Condition {
    /// A condition's policy values in the form its operator compares: parsed once when the
    /// policy is compiled rather than on every request. A value that does not parse for its
    /// operator (the parser refuses those; a hand-built condition may have one) matches nothing.
    enum Operands: Sendable, Hashable {
        /// StringEquals, StringLike (patterns), ArnEquals, ArnLike (patterns).
        case strings([String])
        /// StringEqualsIgnoreCase, Bool: lowercased.
        case folded([String])
        /// Numeric*, and Date* as seconds since 1970.
        case numbers([Double])
        case ranges([IPAddressRange])
        /// Null reads only whether the key is present.
        case none

        init(_ test: Test, _ values: [String]) {
            switch test {
            case .stringEquals, .stringNotEquals, .stringLike, .stringNotLike, .arnEquals, .arnNotEquals, .arnLike,
                .arnNotLike:
                self = .strings(values)
            case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase, .bool:
                self = .folded(values.map { $0.lowercased() })
            case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan,
                .numericGreaterThanEquals:
                self = .numbers(values.compactMap { Double($0) })
            case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan,
                .dateGreaterThanEquals:
                self = .numbers(values.compactMap { PolicyDate.parse($0) })
            case .ipAddress, .notIpAddress:
                self = .ranges(values.compactMap { IPAddressRange($0) })
            case .null:
                self = .none
            }
        }

        /// Whether the request value `value` matches any of the policy values under `test`'s
        /// positive comparison (a Not* operator negates this).
        func anyMatches(_ value: String, _ test: Test) -> Bool {
            switch self {
            case .strings(let patterns):
                switch test {
                case .stringLike, .stringNotLike: return patterns.contains { Wildcard.matches(pattern: $0, value) }
                case .arnEquals, .arnNotEquals, .arnLike, .arnNotLike:
                    return patterns.contains { Wildcard.matchesARN(pattern: $0, value) }
                default: return patterns.contains(value)
                }
            case .folded(let expected):
                return expected.contains(value.lowercased())
            case .numbers(let expected):
                let parsed = test.isDate ? PolicyDate.parse(value) : Double(value)
                guard let number = parsed else { return false }
                let relation = test.relation
                return expected.contains { relation(number, $0) }
            case .ranges(let ranges):
                guard let address = IPAddressRange.parseAddress(value) else { return false }
                return ranges.contains { $0.contains(address) }
            case .none:
                return false
            }
        }
    }
}

extension Condition.Test {
    var isDate: Bool {
        switch self {
        case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals:
            true
        default: false
        }
    }

    /// The comparison of a numeric or date operator, request value first.
    var relation: (Double, Double) -> Bool {
        switch self {
        case .numericLessThan, .dateLessThan: { $0 < $1 }
        case .numericLessThanEquals, .dateLessThanEquals: { $0 <= $1 }
        case .numericGreaterThan, .dateGreaterThan: { $0 > $1 }
        case .numericGreaterThanEquals, .dateGreaterThanEquals: { $0 >= $1 }
        default: { $0 == $1 }
        }
    }
}
