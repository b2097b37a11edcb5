/// A request member that breaks a constraint of AWS's model, worded as AWS words it (`Value 'x'
/// at 'aliasName' failed to satisfy constraint: Member must ...`). AWS checks every member
/// before the operation runs and answers all that fail in one ValidationException.
public struct ConstraintViolation: Sendable, Hashable {
    /// The whole sentence for one member.
    public let text: String

    /// `value` at `member` (AWS's path: `aliasName`, `tags.1.member.tagKey`) broke `constraint`.
    public init(value: String, member: String, constraint: String) {
        self.text = "Value '\(value)' at '\(member)' failed to satisfy constraint: \(constraint)"
    }

    /// The constraint on a length `text` breaks (`Member must have length less than or equal to
    /// 128`), or nil within `range`. Lengths count UTF-16 units, as AWS's Java service does.
    public static func length(_ text: String, in range: ClosedRange<Int>) -> String? {
        let length = text.utf16.count
        if length < range.lowerBound { return "Member must have length greater than or equal to \(range.lowerBound)" }
        if length > range.upperBound { return "Member must have length less than or equal to \(range.upperBound)" }
        return nil
    }
}

extension KMSError {
    /// One ValidationException for every violation, as AWS counts and joins them; nil for none.
    public static func validation(violations: [ConstraintViolation]) -> KMSError? {
        guard !violations.isEmpty else { return nil }
        let count = violations.count
        return .validation(
            "\(count) validation error\(count == 1 ? "" : "s") detected: "
                + violations.map(\.text).joined(separator: "; "))
    }
}
