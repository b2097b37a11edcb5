/// Alias name rules, as AWS applies them.
public enum AliasName {
    /// The prefix of AWS managed keys' aliases, which callers may not create.
    public static let reservedPrefix = "alias/aws/"

    /// Validates a name for CreateAlias/UpdateAlias/DeleteAlias. `creating` also refuses the
    /// `alias/aws/` prefix, which belongs to AWS-managed keys.
    public static func validate(_ name: String, creating: Bool) throws(KMSError) {
        let length = name.utf8.count
        guard (1...256).contains(length) else {
            throw .validation(
                "1 validation error detected: Value at 'aliasName' failed to satisfy constraint: Member must have "
                    + "length between 1 and 256"
            )
        }
        guard name.utf8.allSatisfy(isAllowed) else {
            throw .validation(
                "1 validation error detected: Value '\(name.prefix(256))' at 'aliasName' failed to satisfy "
                    + "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9/_-]+$"
            )
        }
        guard name.hasPrefix("alias/"), length > 6 else {
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
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "/"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
