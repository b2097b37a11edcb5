import Foundation
import KMSDomain
import KMSPolicy

/// The policy parser (key policies from CreateKey/PutKeyPolicy, identity policies from the
/// admin API), and evaluation of what it accepts.
///
/// Input: one byte (bit 0: identity rather than key policy; bit 1: pad the text with spaces past
/// the 32 KiB limit; else a 4 in the upper six bits: pad it to exactly the limit), then the
/// policy text. The parser throws only MalformedPolicyDocumentException, refuses every text over
/// the limit and accepts padding up to it; a document it accepts, written back as JSON, parses
/// to the same document, and both evaluate alike (and without crashing) against requests built
/// from its own conditions.
enum PolicyTarget {
    static let target = FuzzTarget(name: "policy", run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let mode = input.byte()
        let kind: PolicyDocument.Kind = mode & 1 == 0 ? .resource : .identity
        let text = String(decoding: input.rest(), as: UTF8.self)
        let document: PolicyDocument?
        do {
            document = try PolicyDocument.parse(text, kind: kind)
        } catch {
            require(error.code == .malformedPolicyDocument, "parse threw \(error.code)")
            document = nil
        }
        if text.utf8.count > PolicyDocument.maximumBytes {
            require(document == nil, "a policy over the size limit was accepted")
        }

        if mode & 2 != 0 {
            let padded = text + String(repeating: " ", count: max(1, PolicyDocument.maximumBytes + 1 - text.utf8.count))
            do {
                _ = try PolicyDocument.parse(padded, kind: kind)
                require(false, "a policy of \(padded.utf8.count) bytes was accepted")
            } catch {
                require(error.code == .malformedPolicyDocument, "parse threw \(error.code)")
            }
        } else if mode & 0xFC == 4, text.utf8.count < PolicyDocument.maximumBytes {
            // One mode in 64: parsing 32 KiB is slow next to the rest of the target.
            let padded = text + String(repeating: " ", count: PolicyDocument.maximumBytes - text.utf8.count)
            let paddedDocument = try? PolicyDocument.parse(padded, kind: kind)
            require(
                paddedDocument.map(Shape.init) == document.map(Shape.init),
                "trailing spaces up to the limit changed the result")
        }

        guard let document else { return }
        let written = PolicyWriter.json(document)
        // It may have grown past the limit (account ids written out as ARNs).
        guard written.utf8.count <= PolicyDocument.maximumBytes else { return }
        let reparsed: PolicyDocument
        do {
            reparsed = try PolicyDocument.parse(written, kind: kind)
        } catch {
            require(false, "the written policy does not parse: \(error.message)\n\(written.prefix(1024))")
            return
        }
        require(
            Shape(reparsed) == Shape(document),
            "the written policy parses to another document:\n\(written.prefix(1024))")
        for context in contexts(for: document) {
            require(
                document.evaluate(context) == reparsed.evaluate(context), "the written policy evaluates differently")
        }
    }

    /// Requests that reach into the document: its condition keys set to its own values (one
    /// by one and all at once), and no keys at all.
    static func contexts(for document: PolicyDocument) -> [RequestContext] {
        let principals = [
            "arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:user/x",
        ]
        var contexts: [RequestContext] = []
        for (index, principal) in principals.enumerated() {
            let base = RequestContext(
                principalARN: principal, action: index == 1 ? "kms:Decrypt" : "kms:CreateGrant",
                resource: FuzzKeys.keyARN,
                service: index == 2 ? "logs.amazonaws.com" : nil)
            contexts.append(base)
            var all = base
            for statement in document.statements {
                for condition in statement.conditions {
                    all.set(condition.key, condition.values)
                    var one = base
                    one.set(condition.key, Array(condition.values.prefix(1)))
                    contexts.append(one)
                }
            }
            contexts.append(all)
        }
        return contexts.prefix(64).map { $0 }
    }

    /// A document as a value to compare: conditions of a statement as a set, since the order in
    /// which a JSON object's members are read is not the document's meaning.
    struct Shape: Equatable {
        struct Statement: Equatable {
            var sid: String?
            var effect: PolicyStatement.Effect
            var principal: PrincipalMatcher?
            var actions: Matcher
            var resources: Matcher?
            var conditions: Set<Condition>
            var conditionCount: Int
        }

        var version: String?
        var id: String?
        var statements: [Statement]

        init(_ document: PolicyDocument) {
            self.version = document.version
            self.id = document.id
            self.statements = document.statements.map {
                Statement(
                    sid: $0.sid, effect: $0.effect, principal: $0.principal, actions: $0.actions,
                    resources: $0.resources,
                    conditions: Set($0.conditions), conditionCount: $0.conditions.count)
            }
        }
    }

    /// Policies from the policy tests and the service's default key policy.
    static let examplePolicies: [String] = [
        #"{"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{"Sid": "Enable IAM User Permissions", "#
            + #""Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "#
            + #""Resource": "*"}]}"#,
        #"{"Statement": [{"Sid": "AllButDelete", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "#
            + #""NotAction": ["kms:ScheduleKeyDeletion", "kms:Disable*"], "NotResource": "#
            + #""arn:aws:kms:*:*:key/secret-*"}, {"Sid": "OthersNoEncrypt", "Effect": "Deny", "NotPrincipal": "#
            + #"{"AWS": ["arn:aws:iam::111122223333:root"]}, "Action": "kms:Encrypt", "Resource": "*"}]}"#,
        #"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "#
            + #""Resource": "*"}, {"Sid": "NoDecryptWithoutContext", "Effect": "Deny", "Principal": "*", "Action": "#
            + #""kms:Decrypt", "Resource": "*", "Condition": {"Null": {"kms:EncryptionContext:app": "true"}}}]}"#,
        #"{"Statement": {"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "#
            + #""kms:Encrypt*"}}"#,
        #"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": "#
            + #"["arn:aws:iam::111122223333:role/app", "arn:aws:sts::111122223333:assumed-role/app/session"]}, "#
            + #""Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*", "Condition": {"StringEquals": "#
            + #"{"kms:EncryptionContext:app": "web", "kms:CallerAccount": "111122223333"}, "Bool": "#
            + #"{"aws:SecureTransport": "true"}, "ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "#
            + #"["app*", "tenant?"]}}}}"#,
        #"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": "#
            + #"{"NotIpAddress": {"aws:SourceIp": ["192.0.2.7", "2001:db8::/32", "10.0.0.0/8"]}, "DateGreaterThan": "#
            + #"{"aws:CurrentTime": "2030-01-01T00:00:00Z"}, "NumericLessThanIfExists": {"kms:ExpirationDays": "#
            + #"30}}}, {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:CreateGrant", "#
            + #""Resource": "*", "Condition": {"ForAllValues:StringEquals": {"kms:GrantOperations": "#
            + #"["Decrypt", "Encrypt"]}, "Bool": {"kms:GrantIsForAWSResource": true}, "ArnLike": "#
            + #"{"aws:PrincipalArn": "arn:aws:iam::*:role/app-*"}}}]}"#,
        #"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "#
            + #""arn:aws:kms:us-east-1:111122223333:key/*", "Condition": {"StringEqualsIgnoreCase": "#
            + #"{"kms:RequestAlias": "alias/App"}, "DateLessThanEquals": {"aws:CurrentTime": "2023-11-14"}}}}"#,
    ]

    static func seeds() -> [[UInt8]] {
        examplePolicies.enumerated().map { index, policy in
            // The identity policy seeds (mode bit 0) are the ones without a Principal.
            let identity: UInt8 = policy.contains("Principal") ? 0 : 1
            return [identity | UInt8(index % 3 == 2 ? 4 : 0)] + Array(policy.utf8)
        } + [[2] + Array(examplePolicies[0].utf8)]
    }
}
