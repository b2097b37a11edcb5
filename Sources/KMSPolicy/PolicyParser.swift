import Foundation
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
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw malformed("The policy is not a JSON object.")
        }
        for key in object.keys where !["Version", "Id", "Statement"].contains(key) {
            throw malformed("The policy has an unknown element '\(key.prefix(64))'.")
        }
        let version = object["Version"] as? String
        if object["Version"] != nil, version != "2012-10-17", version != "2008-10-17" {
            throw malformed("The policy Version must be \"2012-10-17\" or \"2008-10-17\".")
        }
        let rawStatements: [Any]
        switch object["Statement"] {
        case let list as [Any]: rawStatements = list
        case let single as [String: Any]: rawStatements = [single]
        default: throw malformed("The policy has no Statement.")
        }
        guard !rawStatements.isEmpty else { throw malformed("The policy has no Statement.") }
        var statements: [PolicyStatement] = []
        for (index, raw) in rawStatements.enumerated() {
            guard let statement = raw as? [String: Any] else { throw malformed("Statement \(index + 1) is not an object.") }
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
        case (nil, let p?, .resource): principal = try parsePrincipal(p, negated: true, name: name)
        case (nil, nil, .resource): throw malformed("\(name) has no Principal; key policy statements need one.")
        default: throw malformed("\(name) has both Principal and NotPrincipal.")
        }
        let actions = try parseMatcher(s, positive: "Action", negative: "NotAction", name: name, caseInsensitive: true, required: true)!
        for pattern in actions.patterns where pattern != "*" && !pattern.hasPrefix("kms:") {
            throw malformed("\(name) has an action '\(pattern.prefix(64))' that is not a kms: action.")
        }
        let resources = try parseMatcher(s, positive: "Resource", negative: "NotResource", name: name, caseInsensitive: false, required: kind == .identity)
        let conditions = try parseConditions(s["Condition"], name: name)
        return PolicyStatement(sid: s["Sid"] as? String, effect: effect, principal: principal, actions: actions, resources: resources, conditions: conditions)
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
            guard text == "*" else { throw malformed("\(name) has an invalid Principal: use \"*\" or an object such as {\"AWS\": ...}.") }
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
            guard let list = strings(entries), !list.isEmpty else { throw malformed("\(name): Principal \(type) must be a string or a list of strings.") }
            switch type {
            case "AWS":
                for entry in list {
                    if entry == "*" {
                        anyone = true
                    } else if Account.isValid(entry) {
                        accounts.insert(entry)
                    } else if isPrincipalARN(entry) {
                        aws.insert(entry)
                    } else {
                        throw malformed("Policy contains a statement with one or more invalid principals: '\(entry.prefix(128))' in \(name).")
                    }
                }
            case "Service":
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
        return parts[5] == "root" || parts[5].hasPrefix("user/") || parts[5].hasPrefix("role/") || parts[5].hasPrefix("assumed-role/")
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
                throw malformed("\(name): \(s[positive] != nil ? positive : negative) must be a string or a non-empty list of strings.")
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
            for (key, raw) in keys {
                let values: [String]
                switch raw {
                case let list as [Any]: values = list.compactMap(Self.scalarText)
                default: values = Self.scalarText(raw).map { [$0] } ?? []
                }
                guard !values.isEmpty else {
                    throw malformed("\(name): condition key '\(key.prefix(64))' needs a value (string, number, boolean or a list of them).")
                }
                if test == .ipAddress || test == .notIpAddress {
                    for v in values where IPAddressRange(v) == nil { throw malformed("\(name): '\(v.prefix(64))' is not an IP address or CIDR block.") }
                }
                if [.dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals].contains(test) {
                    for v in values where PolicyDate.parse(v) == nil { throw malformed("\(name): '\(v.prefix(64))' is not a date.") }
                }
                if [.numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan, .numericGreaterThanEquals].contains(test) {
                    for v in values where Double(v) == nil { throw malformed("\(name): '\(v.prefix(64))' is not a number.") }
                }
                conditions.append(Condition(test: test, setForm: form, ifExists: ifExists, key: key, values: values))
            }
        }
        return conditions
    }

    /// Condition values are strings in IAM; numbers and booleans are taken in their text form.
    private static func scalarText(_ value: Any) -> String? {
        switch value {
        case let text as String: return text
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
            return number.stringValue
        default: return nil
        }
    }
}
