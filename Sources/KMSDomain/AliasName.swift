/// Alias name rules, as AWS applies them.
public enum AliasName {
    /// The prefix of AWS managed keys' aliases, which callers may not create.
    public static let reservedPrefix = "alias/aws/"

    /// The model's pattern for alias names (AliasNameType), as AWS quotes it.
    public static let pattern = "^[a-zA-Z0-9:/_-]+$"

    /// Validates a name for CreateAlias/UpdateAlias/DeleteAlias: first the model's constraints
    /// (1 to 256 characters of `pattern`), then the `alias/` prefix, as AWS checks them.
    /// `creating` also refuses the `alias/aws/` prefix, which belongs to AWS-managed keys.
    public static func validate(_ name: String, creating: Bool) throws(KMSError) {
        var violations: [ConstraintViolation] = []
        if let broken = ConstraintViolation.length(name, in: 1...256) {
            violations.append(ConstraintViolation(value: name, member: "aliasName", constraint: broken))
        }
        if !name.isEmpty, !name.utf8.allSatisfy(isAllowed) {
            violations.append(
                ConstraintViolation(
                    value: name, member: "aliasName",
                    constraint: "Member must satisfy regular expression pattern: \(pattern)"))
        }
        if let error = KMSError.validation(violations: violations) { throw error }
        guard name.hasPrefix("alias/") else {
            throw .validation(
                "Alias must start with the prefix \"alias/\". Please see "
                    + "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
        }
        guard name.utf8.count > 6 else {
            throw KMSError(.invalidAliasName, "Alias must start with the prefix \"alias/\" followed by a name.")
        }
        if creating, name.hasPrefix(reservedPrefix) {
            throw KMSError(
                .invalidAliasName,
                "Alias must not begin with \"\(reservedPrefix)\"; that prefix is reserved for AWS managed keys.")
        }
    }

    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "_"),
            UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
