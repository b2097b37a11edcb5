/// `*` (any run of characters) and `?` (one character) matching, as IAM uses for actions,
/// resources and the *Like operators. Iterative with one backtrack point: linear in practice,
/// never exponential on hostile patterns.
enum Wildcard {
    static func matches(pattern: String, _ subject: String) -> Bool {
        let p = Array(pattern.unicodeScalars), s = Array(subject.unicodeScalars)
        var pi = 0, si = 0
        var starPattern = -1, starSubject = 0
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
