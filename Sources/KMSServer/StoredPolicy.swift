import KMSPolicy

/// What stands in for a stored policy that no longer parses. Policies are validated before
/// they are stored, so this takes a newer grammar or a row edited behind the service's back;
/// either way the safe reading is "deny everything", never "this policy is not there", which
/// would silently drop its Deny statements.
enum StoredPolicy {
    static let denyAllIdentity = parseFixed(
        #"{"Version":"2012-10-17","Statement":[{"Sid":"UnreadableStoredPolicy","Effect":"Deny","Action":"*","#
            + #""Resource":"*"}]}"#,
        kind: .identity
    )

    static let denyAllResource = parseFixed(
        #"{"Version":"2012-10-17","Statement":[{"Sid":"UnreadableStoredPolicy","Effect":"Deny","Principal":"*","#
            + #""Action":"*","Resource":"*"}]}"#,
        kind: .resource
    )

    private static func parseFixed(_ text: String, kind: PolicyDocument.Kind) -> PolicyDocument {
        do {
            return try PolicyDocument.parse(text, kind: kind)
        } catch {
            preconditionFailure("the fixed deny-all policy does not parse: \(error)")
        }
    }
}
