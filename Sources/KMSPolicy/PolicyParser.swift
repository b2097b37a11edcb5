import KMSDomain

extension PolicyDocument {
    /// The largest policy document AWS KMS accepts.
    public static let maximumBytes = 32_768

    /// Parses and validates a policy. Anything malformed gets MalformedPolicyDocumentException
    /// with a message that says what is wrong and where.
    public static func parse(_ text: String, kind: Kind) throws(KMSError) -> PolicyDocument {
        guard text.utf8.count <= maximumBytes else {
            throw malformed("The policy is \(text.utf8.count) bytes; at most \(maximumBytes) are allowed.")
        }
        guard let object = try StrictJSON.parse(text) as? [String: Any] else {
            throw malformed("The policy is not a JSON object.")
        }
        for key in object.keys where !["Version", "Id", "Statement"].contains(key) {
            throw malformed("The policy has an unknown element '\(key.prefix(64))'.")
        }
        let version = object["Version"] as? String
        if object["Version"] != nil, version != "2012-10-17", version != "2008-10-17" {
            throw malformed("The policy Version must be \"2012-10-17\" or \"2008-10-17\".")
        }
        if let id = object["Id"], !(id is String) { throw malformed("The policy Id must be a string.") }
        let rawStatements: [Any]
        switch object["Statement"] {
        case let list as [Any]: rawStatements = list
        case let single as [String: Any]: rawStatements = [single]
        default: throw malformed("The policy has no Statement.")
        }
        guard !rawStatements.isEmpty else { throw malformed("The policy has no Statement.") }
        var statements: [PolicyStatement] = []
        for (index, raw) in rawStatements.enumerated() {
            guard let statement = raw as? [String: Any] else {
                throw malformed("Statement \(index + 1) is not an object.")
            }
            statements.append(try parseStatement(statement, index: index + 1, kind: kind))
        }
        return PolicyDocument(version: version, id: object["Id"] as? String, statements: statements)
    }

    static func malformed(_ message: String) -> KMSError {
        KMSError(.malformedPolicyDocument, message)
    }

    private static let statementElements: Set<String> = [
        "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition",
    ]

    private static func parseStatement(_ s: [String: Any], index: Int, kind: Kind) throws(KMSError) -> PolicyStatement {
        if let sid = s["Sid"], !(sid is String) { throw malformed("Statement \(index): Sid must be a string.") }
        let name = (s["Sid"] as? String).map { "Statement '\($0.prefix(64))'" } ?? "Statement \(index)"
        for key in s.keys where !statementElements.contains(key) {
            throw malformed("\(name) has an unknown element '\(key.prefix(64))'.")
        }
        guard let effectText = s["Effect"] as? String, let effect = PolicyStatement.Effect(rawValue: effectText) else {
            throw malformed("\(name) needs an Effect of Allow or Deny.")
        }
        let principal: PrincipalMatcher?
        switch (s["Principal"], s["NotPrincipal"], kind) {
        case (nil, nil, .identity): principal = nil
        case (_, _, .identity): throw malformed("\(name): identity policies cannot name a Principal.")
        case (let p?, nil, .resource): principal = try parsePrincipal(p, negated: false, name: name)
        case (nil, _?, .resource) where effect == .allow:
            // AWS does not support it: it grants everyone not listed, never what was meant.
            throw malformed(
                "\(name): NotPrincipal is not supported with Effect Allow; use it only in a Deny statement.")
        case (nil, let p?, .resource): principal = try parsePrincipal(p, negated: true, name: name)
        case (nil, nil, .resource): throw malformed("\(name) has no Principal; key policy statements need one.")
        default: throw malformed("\(name) has both Principal and NotPrincipal.")
        }
        let actions = try parseMatcher(
            s, positive: "Action", negative: "NotAction", name: name, caseInsensitive: true, required: true)!
        for pattern in actions.patterns where pattern != "*" && !pattern.hasPrefix("kms:") {
            throw malformed("\(name) has an action '\(pattern.prefix(64))' that is not a kms: action.")
        }
        let resources = try parseMatcher(
            s, positive: "Resource", negative: "NotResource", name: name, caseInsensitive: false,
            required: kind == .identity)
        let conditions = try parseConditions(s["Condition"], name: name)
        return PolicyStatement(
            sid: s["Sid"] as? String, effect: effect, principal: principal, actions: actions, resources: resources,
            conditions: conditions)
    }

    private static func strings(_ value: Any?) -> [String]? {
        switch value {
        case let text as String: return [text]
        case let list as [Any]:
            let texts = list.compactMap { $0 as? String }
            return texts.count == list.count ? texts : nil
        default: return nil
        }
    }

    private static func parsePrincipal(_ value: Any, negated: Bool, name: String) throws(KMSError) -> PrincipalMatcher {
        if let text = value as? String {
            guard text == "*" else {
                throw malformed("\(name) has an invalid Principal: use \"*\" or an object such as {\"AWS\": ...}.")
            }
            return PrincipalMatcher(anyone: true, aws: [], services: [], negated: negated)
        }
        guard let object = value as? [String: Any], !object.isEmpty else {
            throw malformed("\(name) has an invalid Principal.")
        }
        var anyone = false
        var aws: Set<String> = []
        var accounts: Set<String> = []
        var services: Set<String> = []
        for (type, entries) in object {
            guard let list = strings(entries), !list.isEmpty else {
                throw malformed("\(name): Principal \(type) must be a string or a list of strings.")
            }
            switch type {
            case "AWS":
                for entry in list {
                    if entry == "*" {
                        anyone = true
                    } else if entry.utf8.contains(UInt8(ascii: "*")) || entry.utf8.contains(UInt8(ascii: "?")) {
                        // "*" alone is anyone; a wildcard inside a principal matches nothing
                        // (principals compare exactly), so a Deny naming one would deny no one.
                        throw malformed(
                            "Policy contains a statement with one or more invalid principals: '\(entry.prefix(128))' "
                                + "in \(name) (a wildcard is allowed only as \"*\" alone)."
                        )
                    } else if Account.isValid(entry) {
                        accounts.insert(entry)
                    } else if isPrincipalARN(entry) {
                        aws.insert(entry)
                    } else {
                        throw malformed(
                            "Policy contains a statement with one or more invalid principals: '\(entry.prefix(128))' "
                                + "in \(name)."
                        )
                    }
                }
            case "Service":
                for entry in list where !isServicePrincipal(entry) {
                    throw malformed(
                        "Policy contains a statement with one or more invalid principals: service principal "
                            + "'\(entry.prefix(128))' in \(name)."
                    )
                }
                services.formUnion(list)
            default:
                throw malformed("\(name) has an unsupported principal type '\(type.prefix(32))'.")
            }
        }
        return PrincipalMatcher(anyone: anyone, aws: aws, accounts: accounts, services: services, negated: negated)
    }

    /// arn:<partition>:iam::<account>:<root|user/...|role/...> or an STS assumed-role ARN.
    public static func isPrincipalARN(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", !parts[1].isEmpty, parts[2] == "iam" || parts[2] == "sts",
            parts[3].isEmpty, Account.isValid(String(parts[4])), !parts[5].isEmpty
        else { return false }
        return parts[5] == "root" || parts[5].hasPrefix("user/") || parts[5].hasPrefix("role/")
            || parts[5].hasPrefix("assumed-role/")
    }

    /// A service principal such as "logs.us-east-1.amazonaws.com": no wildcard (services
    /// compare exactly), nothing but letters, digits, dots and dashes.
    static func isServicePrincipal(_ text: String) -> Bool {
        (1...256).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "-")
            }
    }

    private static func parseMatcher(
        _ s: [String: Any], positive: String, negative: String, name: String, caseInsensitive: Bool, required: Bool
    ) throws(KMSError) -> Matcher? {
        switch (s[positive], s[negative]) {
        case (nil, nil):
            if required { throw malformed("\(name) needs \(positive) or \(negative).") }
            return nil
        case (let value?, nil), (nil, let value?):
            guard let list = strings(value), !list.isEmpty else {
                throw malformed(
                    "\(name): \(s[positive] != nil ? positive : negative) must be a string or a non-empty list of "
                        + "strings."
                )
            }
            return Matcher(
                patterns: caseInsensitive ? list.map { $0.lowercased() } : list,
                negated: s[positive] == nil, caseInsensitive: caseInsensitive
            )
        default:
            throw malformed("\(name) has both \(positive) and \(negative).")
        }
    }

    private static func parseConditions(_ value: Any?, name: String) throws(KMSError) -> [Condition] {
        guard let value else { return [] }
        guard let blocks = value as? [String: Any] else { throw malformed("\(name): Condition must be an object.") }
        var conditions: [Condition] = []
        for (operatorName, body) in blocks {
            guard let (test, form, ifExists) = Condition.parseOperator(operatorName) else {
                throw malformed("\(name) has an unknown condition operator '\(operatorName.prefix(64))'.")
            }
            guard let keys = body as? [String: Any], !keys.isEmpty else {
                throw malformed("\(name): the \(operatorName) block must map condition keys to values.")
            }
            // Condition keys are case-insensitive: two spellings of one key in a block are
            // one key given twice, which AWS refuses.
            var seen: Set<String> = []
            for key in keys.keys {
                guard !key.isEmpty else {
                    throw malformed("\(name): the \(operatorName) block has an empty condition key.")
                }
                guard seen.insert(key.lowercased()).inserted else {
                    throw malformed(
                        "\(name): duplicate keys with different case: condition key '\(key.prefix(64))' appears more "
                            + "than once in the \(operatorName) block."
                    )
                }
            }
            for (key, raw) in keys {
                let values = try conditionValues(raw, key: key, name: name)
                try validate(values, for: test, key: key, name: name)
                conditions.append(Condition(test: test, setForm: form, ifExists: ifExists, key: key, values: values))
            }
        }
        return conditions
    }

    /// A scalar or a non-empty list of scalars. Anything else is refused rather than dropped:
    /// dropping a value can turn a Deny's condition false.
    private static func conditionValues(_ raw: Any, key: String, name: String) throws(KMSError) -> [String] {
        let list = raw as? [Any] ?? [raw]
        var values: [String] = []
        values.reserveCapacity(list.count)
        for item in list {
            guard let text = scalarText(item) else {
                throw malformed(
                    "\(name): condition key '\(key.prefix(64))' has a value that is not a string, number or boolean "
                        + "(objects, lists and null are not allowed)."
                )
            }
            values.append(text)
        }
        guard !values.isEmpty else {
            throw malformed(
                "\(name): condition key '\(key.prefix(64))' needs a value (string, number, boolean or a list of them).")
        }
        return values
    }

    /// Each value must mean something under its operator: one that the evaluator could not
    /// read (NaN, "inf", "0x10", "yes" for Bool) would make the condition silently never match.
    private static func validate(_ values: [String], for test: Condition.Test, key: String, name: String)
        throws(KMSError)
    {
        switch test {
        case .ipAddress, .notIpAddress:
            for v in values where IPAddressRange(v) == nil {
                throw malformed("\(name): '\(v.prefix(64))' is not an IP address or CIDR block.")
            }
        case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals:
            for v in values {
                let isNumber = Double(v) != nil
                guard isNumber ? isDecimal(v) : PolicyDate.parse(v) != nil else {
                    throw malformed("\(name): '\(v.prefix(64))' is not a date.")
                }
            }
        case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan,
            .numericGreaterThanEquals:
            for v in values where !isDecimal(v) { throw malformed("\(name): '\(v.prefix(64))' is not a number.") }
        case .bool, .null:
            for v in values where !["true", "false"].contains(v.lowercased()) {
                throw malformed("\(name): '\(v.prefix(64))' is not a boolean; \(test.rawValue) takes true or false.")
            }
        default:
            break
        }
    }

    /// A finite number written in decimal: an optional minus, digits, an optional fraction and
    /// exponent. Swift's Double(_:) also reads "nan", "inf", hex and a leading "+".
    static func isDecimal(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        func digits(_ bytes: inout Substring.UTF8View.SubSequence) -> Int {
            let run = bytes.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
            bytes = bytes.dropFirst(run)
            return run
        }
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        guard digits(&bytes) > 0 else { return false }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard digits(&bytes) > 0 else { return false }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard digits(&bytes) > 0 else { return false }
        }
        return bytes.isEmpty && Double(text)?.isFinite == true
    }

    /// Condition values are strings in IAM; numbers are taken as written, booleans as
    /// "true"/"false".
    private static func scalarText(_ value: Any) -> String? {
        switch value {
        case let text as String: text
        case let number as JSONNumber: number.text
        case let flag as Bool: flag ? "true" : "false"
        default: nil
        }
    }
}
