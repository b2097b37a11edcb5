/// One condition: `"ForAnyValue:StringLikeIfExists": {"kms:EncryptionContext:app": ["a*"]}`
/// for one key.
public struct Condition: Sendable, Hashable {
    /// How a multi-valued request key is tested: as one value, or with IAM's `ForAnyValue:`/`ForAllValues:` prefixes.
    public enum SetForm: Sendable, Hashable {
        case single, forAnyValue, forAllValues
    }

    /// The condition operator, by its IAM name without set prefix or IfExists suffix.
    public enum Test: String, Sendable, Hashable, CaseIterable {
        case stringEquals = "StringEquals"
        case stringNotEquals = "StringNotEquals"
        case stringEqualsIgnoreCase = "StringEqualsIgnoreCase"
        case stringNotEqualsIgnoreCase = "StringNotEqualsIgnoreCase"
        case stringLike = "StringLike"
        case stringNotLike = "StringNotLike"
        case arnEquals = "ArnEquals"
        case arnNotEquals = "ArnNotEquals"
        case arnLike = "ArnLike"
        case arnNotLike = "ArnNotLike"
        case numericEquals = "NumericEquals"
        case numericNotEquals = "NumericNotEquals"
        case numericLessThan = "NumericLessThan"
        case numericLessThanEquals = "NumericLessThanEquals"
        case numericGreaterThan = "NumericGreaterThan"
        case numericGreaterThanEquals = "NumericGreaterThanEquals"
        case dateEquals = "DateEquals"
        case dateNotEquals = "DateNotEquals"
        case dateLessThan = "DateLessThan"
        case dateLessThanEquals = "DateLessThanEquals"
        case dateGreaterThan = "DateGreaterThan"
        case dateGreaterThanEquals = "DateGreaterThanEquals"
        case bool = "Bool"
        case ipAddress = "IpAddress"
        case notIpAddress = "NotIpAddress"
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

    /// The operator.
    public let test: Test
    /// The set prefix the operator was written with, `.single` when none.
    public let setForm: SetForm
    /// Written with the `IfExists` suffix: the condition holds when the request lacks `key`.
    public let ifExists: Bool
    /// The condition key as written (`kms:EncryptionContext:app`); matched to the request's keys ignoring case.
    public let key: String
    /// The policy's values for `key`, as written; the parser has checked they suit the operator.
    public let values: [String]
    /// `values` parsed once for the operator (numbers, dates, address blocks, folded case), so
    /// that evaluation parses only the request's values.
    let operands: Operands

    init(test: Test, setForm: SetForm, ifExists: Bool, key: String, values: [String]) {
        self.test = test
        self.setForm = setForm
        self.ifExists = ifExists
        self.key = key
        self.values = values
        self.operands = Operands(test, values)
    }

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
        guard let test = Test(rawValue: String(rest)), !(test == .null && (ifExists || form != .single)) else {
            return nil
        }
        return (test, form, ifExists)
    }

    /// IAM's documented semantics, which no order of request or policy values can change:
    ///
    /// - Several policy values for one key are ORed; for a Not* operator they are NORed (the
    ///   request value matches none of them).
    /// - An absent key, or one with an empty list of values (IAM's "null data set"), fails a
    ///   positive operator and satisfies a Not* one; `...IfExists` makes the condition hold
    ///   whatever the set form (IAM: "if the key is not present, evaluate the condition element
    ///   as true"); ForAllValues holds (vacuously) and ForAnyValue fails. Null looks only at
    ///   presence: an empty list is null.
    /// - ForAnyValue: some request value satisfies the operator; ForAllValues: every one does.
    ///   With a Not* operator, "satisfies" means it matches none of the policy values.
    /// - Without a set prefix on a key that carries several values (aws:TagKeys, or
    ///   kms:EncryptionContext:app when the context has both "app" and "APP"), IAM says a set
    ///   prefix is required and leaves the result undefined. Looking at the first value, as
    ///   this did, let `StringEquals aws:TagKeys Owner` in a Deny be dodged by listing another tag
    ///   first. We take the reading that does not depend on order and never lets a Deny be
    ///   escaped by adding values: a positive operator holds when any request value matches
    ///   (ForAnyValue), a Not* operator only when no request value matches any policy value
    ///   (ForAllValues:Not*), i.e. the Not* operator is exactly the negation of its positive over
    ///   the whole set. With one value this is the ordinary single-valued comparison.
    func holds(in context: RequestContext) -> Bool {
        let requestValues = context.value(self.key) ?? []
        if self.test == .null {
            let isNull = requestValues.isEmpty
            return self.values.contains { ($0.lowercased() == "true") == isNull }
        }
        guard !requestValues.isEmpty else {
            if self.ifExists { return true }
            switch self.setForm {
            case .forAllValues: return true
            case .forAnyValue: return false
            case .single: return self.test.isNegated
            }
        }
        switch self.setForm {
        case .forAnyValue:
            return requestValues.contains { self.matches($0) }
        case .forAllValues:
            return requestValues.allSatisfy { self.matches($0) }
        case .single where self.test.isNegated:
            return requestValues.allSatisfy { self.matches($0) }
        case .single:
            return requestValues.contains { self.matches($0) }
        }
    }

    /// Whether one request value satisfies the operator against the policy's values (any of
    /// them for positive operators, none of them for Not* operators).
    private func matches(_ value: String) -> Bool {
        let any = self.operands.anyMatches(value, self.test)
        return self.test.isNegated ? !any : any
    }
}
