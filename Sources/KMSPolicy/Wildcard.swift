/// `*` (any run of characters) and `?` (one character) matching, as IAM uses for actions,
/// resources and the *Like operators. Iterative with one backtrack point: linear in practice,
/// never exponential on hostile patterns.
enum Wildcard {
    static func matches(pattern: String, _ subject: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let s = Array(subject.unicodeScalars)
        var pi = 0
        var si = 0
        var starPattern = -1
        var starSubject = 0
        while si < s.count {
            if pi < p.count, p[pi] == "?" || p[pi] == s[si] {
                pi += 1
                si += 1
            } else if pi < p.count, p[pi] == "*" {
                starPattern = pi
                starSubject = si
                pi += 1
            } else if starPattern >= 0 {
                pi = starPattern + 1
                starSubject += 1
                si = starSubject
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// ArnLike/ArnEquals: each of the six colon-separated parts is matched on its own, so a
    /// wildcard never spans a colon of the ARN's structure (the last part may hold colons).
    static func matchesARN(pattern: String, _ arn: String) -> Bool {
        let patternParts = pattern.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        let arnParts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard patternParts.count == 6, arnParts.count == 6 else { return false }
        return zip(patternParts, arnParts).allSatisfy { matches(pattern: String($0), String($1)) }
    }
}

/// A pattern of Action, NotAction, Resource or NotResource by its shape, decided once when the
/// policy is compiled. Each shape compares Unicode scalars exactly, as `Wildcard.matches` does
/// (String's == would equate canonically equivalent spellings that the general match tells
/// apart).
enum WildcardPattern: Sendable, Hashable {
    /// "*".
    case anything
    /// No wildcard at all.
    case exact(String)
    /// Wildcards only as one trailing "*": "kms:Gen*".
    case prefix(String)
    case general(String)

    init(_ pattern: String) {
        let scalars = pattern.unicodeScalars
        let wildcards = scalars.lazy.filter { $0 == "*" || $0 == "?" }.count
        if pattern == "*" {
            self = .anything
        } else if wildcards == 0 {
            self = .exact(pattern)
        } else if wildcards == 1, scalars.last == "*" {
            self = .prefix(String(scalars.dropLast()))
        } else {
            self = .general(pattern)
        }
    }

    func matches(_ subject: String) -> Bool {
        switch self {
        case .anything: true
        case .exact(let text): subject.unicodeScalars.elementsEqual(text.unicodeScalars)
        case .prefix(let text): subject.unicodeScalars.starts(with: text.unicodeScalars)
        case .general(let pattern): Wildcard.matches(pattern: pattern, subject)
        }
    }
}
