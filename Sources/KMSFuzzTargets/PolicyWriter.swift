import Foundation
import KMSPolicy

/// Writes a parsed policy back as JSON: every element in its list form, account ids as the root
/// ARNs the parser made of them, actions as the lowercase patterns it keeps.
enum PolicyWriter {
    static func json(_ document: PolicyDocument) -> String {
        var object: [String: Any] = [:]
        if let version = document.version { object["Version"] = version }
        if let id = document.id { object["Id"] = id }
        object["Statement"] = document.statements.map(statement)
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func statement(_ s: PolicyStatement) -> [String: Any] {
        var object: [String: Any] = ["Effect": s.effect.rawValue]
        if let sid = s.sid { object["Sid"] = sid }
        if let principal = s.principal {
            object[principal.negated ? "NotPrincipal" : "Principal"] = self.principal(principal)
        }
        object[s.actions.negated ? "NotAction" : "Action"] = s.actions.patterns
        if let resources = s.resources { object[resources.negated ? "NotResource" : "Resource"] = resources.patterns }
        if !s.conditions.isEmpty {
            var blocks: [String: [String: [String]]] = [:]
            for condition in s.conditions {
                blocks[operatorName(condition), default: [:]][condition.key] = condition.values
            }
            object["Condition"] = blocks
        }
        return object
    }

    static func principal(_ p: PrincipalMatcher) -> Any {
        if p.anyone, p.aws.isEmpty, p.accounts.isEmpty, p.services.isEmpty { return "*" }
        var object: [String: [String]] = [:]
        // Bare account ids are kept as accounts (they match that account's root in any partition).
        let aws = p.aws.sorted() + p.accounts.sorted() + (p.anyone ? ["*"] : [])
        if !aws.isEmpty { object["AWS"] = aws }
        if !p.services.isEmpty { object["Service"] = p.services.sorted() }
        return object
    }

    static func operatorName(_ c: Condition) -> String {
        let prefix =
            switch c.setForm {
            case .single: ""
            case .forAnyValue: "ForAnyValue:"
            case .forAllValues: "ForAllValues:"
            }
        return prefix + c.test.rawValue + (c.ifExists ? "IfExists" : "")
    }
}
