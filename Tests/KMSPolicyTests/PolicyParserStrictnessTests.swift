import Foundation
import KMSDomain
import Testing

@testable import KMSPolicy

/// Documents AWS refuses, several of which the parser used to read as something else: it now
/// refuses each with MalformedPolicyDocumentException and a message that says what is wrong.
@Suite struct PolicyParserStrictnessTests {
    /// A key policy statement with `extra` spliced into it.
    static func statement(_ extra: String, effect: String = "Deny") -> String {
        #"{"Version": "2012-10-17", "Statement": [{"Effect": "\#(effect)", "Principal": "*", "Action": "kms:*", "#
            + #""Resource": "*"\#(extra)}]}"#
    }

    static func condition(_ block: String, effect: String = "Deny") -> String {
        statement(#", "Condition": \#(block)"#, effect: effect)
    }

    static func refusal(_ policy: String, kind: PolicyDocument.Kind = .resource) -> KMSError? {
        do {
            _ = try PolicyDocument.parse(policy, kind: kind)
            return nil
        } catch {
            return error
        }
    }

    static func expectRefused(
        _ policy: String, _ reason: String, kind: PolicyDocument.Kind = .resource,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error = refusal(policy, kind: kind) else {
            Issue.record("accepted \(policy.prefix(300))", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == .malformedPolicyDocument, sourceLocation: sourceLocation)
        #expect(error.message.contains(reason), "\(error.message)", sourceLocation: sourceLocation)
    }

    // MARK: Duplicate keys

    /// JSONSerialization kept the last of duplicate keys: this Deny read as an Allow for anyone.
    @Test(arguments: [
        #"{"Statement": [{"Effect": "Deny", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "#
            + #""*"}]}"#,
        #"{"Statement": [{"Effect": "Deny", "\u0045ffect": "Allow", "Principal": "*", "Action": "kms:*", "#
            + #""Resource": "*"}]}"#,
        #"{"Statement": [{"Effect": "Deny", "Eff\u0065ct": "Allow", "Principal": "*", "Action": "kms:*", "#
            + #""Resource": "*"}]}"#,
        #"{"Statement": [{"Sid": "a", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Action": "#
            + #""kms:Nothing", "Resource": "*"}]}"#,
        #"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*"}], "Statement": [{"Effect": "#
            + #""Allow", "Principal": "*", "Action": "kms:*"}]}"#,
        #"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root", "AWS": "*"}, "#
            + #""Action": "kms:*"}]}"#,
        #"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Condition": {"StringEquals": "#
            + #"{"kms:ViaService": "a"}, "StringEquals": {"kms:ViaService": "b"}}}]}"#,
        #"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Condition": {"StringEquals": "#
            + #"{"kms:ViaService": "a", "kms:ViaService": "b"}}}]}"#,
        // Canonically equivalent spellings are one key to Swift's Dictionary.
        #"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Condition": {"StringEquals": "#
            + #"{"kms:EncryptionContext:caf\u00e9": "a", "kms:EncryptionContext:cafe\u0301": "b"}}}]}"#,
    ])
    func duplicateKeysAreRefused(policy: String) {
        Self.expectRefused(policy, "duplicate key")
    }

    @Test func theSameKeyInDifferentObjectsIsFine() throws {
        let policy = try PolicyDocument.parse(
            #"""
            {"Statement": [
              {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Condition": {"StringEquals": \#
            {"kms:ViaService": "a"}}},
              {"Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Condition": {"StringEquals": \#
            {"kms:ViaService": "a"}}}
            ]}
            """#, kind: .resource)
        #expect(policy.statements.map(\.effect) == [.deny, .allow])
    }

    @Test func conditionKeysThatDifferOnlyByCaseInOneBlockAreRefused() {
        Self.expectRefused(
            Self.condition(#"{"StringEquals": {"kms:ViaService": "a", "KMS:VIASERVICE": "b"}}"#),
            "duplicate keys with different case")
    }

    // MARK: Principals

    @Test(arguments: [
        #"{"AWS": "arn:aws:iam::111122223333:user/*"}"#,
        #"{"AWS": "arn:aws:iam::111122223333:role/ap?"}"#,
        #"{"AWS": "arn:aws:iam::*:root"}"#,
        #"{"AWS": ["*", "arn:aws:sts::111122223333:assumed-role/*"]}"#,
        #"{"AWS": "*:root"}"#,
        #"{"Service": "*"}"#,
        #"{"Service": "*.amazonaws.com"}"#,
        #"{"Service": ""}"#,
    ])
    func wildcardsInsidePrincipalsAreRefused(principal: String) {
        Self.expectRefused(
            #"{"Statement": {"Effect": "Deny", "Principal": \#(principal), "Action": "kms:*"}}"#, "invalid principals")
    }

    @Test func anyoneAndServicePrincipalsStillParse() throws {
        let policy = try PolicyDocument.parse(
            #"{"Statement": {"Effect": "Allow", "Principal": {"AWS": ["*"], "Service": "#
                + #""logs.us-east-1.amazonaws.com"}, "Action": "kms:*"}}"#,
            kind: .resource)
        #expect(policy.statements[0].principal?.anyone == true)
        #expect(policy.statements[0].principal?.services == ["logs.us-east-1.amazonaws.com"])
    }

    @Test func notPrincipalIsRefusedWithAllowAndAcceptedWithDeny() throws {
        Self.expectRefused(
            #"{"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "#
                + #""Action": "kms:*"}}"#,
            "NotPrincipal is not supported with Effect Allow")
        let deny = try PolicyDocument.parse(
            #"{"Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "#
                + #""kms:*"}}"#,
            kind: .resource)
        #expect(deny.statements[0].principal?.negated == true)
    }

    // MARK: Condition values

    /// Non-scalar values were dropped: `["a", ["b"]]` became `["a"]`, `[{"x": 1}]` was refused
    /// only when nothing else was left.
    @Test(arguments: [
        #"[["kms:ViaService-value"]]"#, #"{"a": "b"}"#, "null", #"["a", null]"#, #"["a", {"b": 1}]"#, #"["a", ["b"]]"#,
        "[]",
    ])
    func nonScalarConditionValuesAreRefused(value: String) {
        guard let error = Self.refusal(Self.condition(#"{"StringEquals": {"kms:ViaService": \#(value)}}"#)) else {
            Issue.record("accepted \(value)")
            return
        }
        #expect(error.code == .malformedPolicyDocument)
        #expect(error.message.contains("condition key 'kms:ViaService'"), "\(error.message)")
    }

    @Test(arguments: [
        ("NumericLessThan", #""NaN""#, "not a number"), ("NumericLessThan", #""nan""#, "not a number"),
        ("NumericGreaterThan", #""inf""#, "not a number"), ("NumericEquals", #""Infinity""#, "not a number"),
        ("NumericEquals", #""0x10""#, "not a number"), ("NumericEquals", #""+5""#, "not a number"),
        ("NumericEquals", #"" 5""#, "not a number"), ("NumericEquals", #""1e400""#, "not a number"),
        ("NumericEquals", "true", "not a number"),
        ("DateLessThan", #""nan""#, "not a date"), ("DateGreaterThan", #""-inf""#, "not a date"),
        ("DateLessThan", #""0x5""#, "not a date"),
        ("Bool", #""yes""#, "not a boolean"), ("Bool", "1", "not a boolean"), ("Null", #""maybe""#, "not a boolean"),
    ])
    func valuesTheOperatorCannotReadAreRefused(operatorName: String, value: String, reason: String) {
        Self.expectRefused(Self.condition(#"{"\#(operatorName)": {"kms:RotationPeriodInDays": \#(value)}}"#), reason)
    }

    @Test func scalarConditionValuesKeepTheirText() throws {
        let policy = try PolicyDocument.parse(
            Self.condition(
                #"""
                {"NumericEquals": {"kms:RotationPeriodInDays": [12345678901234567890, 1.50, -3e2, "90"]},
                 "Bool": {"aws:SecureTransport": false}, "StringEquals": {"kms:ViaService": "a\u0000b\"c"},
                 "DateLessThan": {"aws:CurrentTime": ["2030-01-01T00:00:00Z", 1700000000]}}
                """#), kind: .resource)
        let values = Dictionary(uniqueKeysWithValues: policy.statements[0].conditions.map { ($0.key, $0.values) })
        #expect(values["kms:RotationPeriodInDays"] == ["12345678901234567890", "1.50", "-3e2", "90"])
        #expect(values["aws:SecureTransport"] == ["false"])
        #expect(values["kms:ViaService"] == ["a\u{0}b\"c"])
        #expect(values["aws:CurrentTime"] == ["2030-01-01T00:00:00Z", "1700000000"])
    }

    // MARK: JSON itself

    static let malformedJSON: [(String, String)] = [
        (Self.condition(#"{"NumericEquals": {"kms:RotationPeriodInDays": NaN}}"#), "unexpected character"),
        (Self.condition(#"{"NumericEquals": {"kms:RotationPeriodInDays": Infinity}}"#), "unexpected character"),
        (Self.condition(#"{"NumericEquals": {"kms:RotationPeriodInDays": -Infinity}}"#), "malformed number"),
        (Self.condition(#"{"NumericEquals": {"kms:RotationPeriodInDays": 1e400}}"#), "number out of range"),
        (Self.condition(#"{"NumericEquals": {"kms:RotationPeriodInDays": -1e999}}"#), "number out of range"),
        (Self.condition(#"{"NumericEquals": {"kms:RotationPeriodInDays": 01}}"#), "malformed number"),
        (Self.condition(#"{"NumericEquals": {"kms:RotationPeriodInDays": 1.}}"#), "malformed number"),
        (Self.condition(#"{"StringEquals": {1: "a"}}"#), "expected a string as an object key"),
        (Self.condition(#"{StringEquals: {"a": "b"}}"#), "expected a string as an object key"),
        (Self.condition(#"{'StringEquals': {"a": "b"}}"#), "expected a string as an object key"),
        (Self.condition(#"{"StringEquals": {"a": "b",}}"#), "expected a string as an object key"),
        (Self.condition(#"{"StringEquals": {"a": ["b",]}}"#), "unexpected character"),
        (Self.condition(#"{"StringEquals": {"a": "\ud800"}}"#), "unpaired UTF-16 surrogate"),
        (Self.condition(#"{"StringEquals": {"a": "\udc00\ud800"}}"#), "unpaired UTF-16 surrogate"),
        (Self.condition(#"{"StringEquals": {"a": "\x41"}}"#), "invalid escape"),
        (Self.condition(#"{"StringEquals": {"a": "\u12"}}"#), "four hex digits"),
        (Self.condition("{\"StringEquals\": {\"a\": \"tab\there\"}}"), "control character"),
        (Self.statement("") + " // comment", "unexpected text after"),
        (Self.statement("") + "{}", "unexpected text after"),
        (#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*"}"#, "expected ',' or ']'"),
        ("\u{FEFF}" + Self.statement(""), "byte order mark"),
        ("[" + Self.statement("") + "]", "not a JSON object"),
        ("\"text\"", "not a JSON object"),
        ("", "not a JSON object"),
    ]

    @Test(arguments: Self.malformedJSON)
    func malformedJSONIsRefused(policy: String, reason: String) {
        Self.expectRefused(policy, reason)
    }

    /// JSONSerialization recursed once per level: deep enough input took the stack.
    @Test func deepNestingIsRefusedNotRecursedInto() {
        let deep = String(repeating: "[", count: 20_000)
        Self.expectRefused(Self.condition(#"{"StringEquals": {"a": \#(deep)}}"#), "levels deep")
        let objects = String(repeating: #"{"a":"#, count: 5_000)
        Self.expectRefused(#"{"Statement": \#(objects)"#, "levels deep")
        // Past the size limit too: the reader itself never recurses past its bound.
        #expect(throws: KMSError.self) {
            try StrictJSON.parse(Array(("{\"a\":" + String(repeating: "[", count: 500_000)).utf8))
        }
    }

    @Test func bytesThatAreNotUTF8AreRefused() {
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82]] {
            let bytes = Array(#"{"Id": ""#.utf8) + bad + Array(#""}"#.utf8)
            do {
                _ = try StrictJSON.parse(bytes)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.code == .malformedPolicyDocument)
                #expect(error.message.contains("not valid UTF-8"), "\(error.message)")
            }
        }
        // Outside strings only JSON's ASCII grammar is allowed.
        #expect(throws: KMSError.self) { try StrictJSON.parse(Array("{\"Id\": \"x\"\u{A0}}".utf8)) }
    }

    // MARK: The document's elements

    static let refusedElements: [(String, String)] = [
        (#"{"Statement": []}"#, "no Statement"),
        (#"{"Version": "2012-10-17"}"#, "no Statement"),
        (#"{"Statement": "kms:*"}"#, "no Statement"),
        (
            #"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}], "Condition": {}}"#,
            "unknown element 'Condition'"
        ),
        (
            #"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}], "version": "2012-10-17"}"#,
            "unknown element 'version'"
        ),
        (
            #"{"Version": "2012-10-18", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}"#,
            "Version must be"
        ),
        (
            #"{"Version": 2012, "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}"#,
            "Version must be"
        ),
        (
            #"{"Version": null, "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}"#,
            "Version must be"
        ),
        (
            #"{"Version": ["2012-10-17"], "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}"#,
            "Version must be"
        ),
        (#"{"Id": 7, "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}"#, "Id must be a string"),
        (
            #"{"Statement": [{"Sid": 1, "Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}"#,
            "Sid must be a string"
        ),
        (
            #"{"Statement": [{"Sid": null, "Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}"#,
            "Sid must be a string"
        ),
        (#"{"Statement": [{"Effect": true, "Principal": "*", "Action": "kms:*"}]}"#, "Effect of Allow or Deny"),
        (#"{"Statement": [{"Effect": "Deny", "Principal": null, "Action": "kms:*"}]}"#, "invalid Principal"),
        (
            #"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Condition": null}]}"#,
            "Condition must be an object"
        ),
        (
            #"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": null}]}"#,
            "Resource must be"
        ),
        (#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": ["kms:*", 1]}]}"#, "Action must be"),
        (
            #"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Condition": {"StringEquals": "#
                + #"{"": "a"}}}]}"#,
            "empty condition key"
        ),
    ]

    @Test(arguments: Self.refusedElements)
    func elementsAWSRefusesAreRefused(policy: String, reason: String) {
        Self.expectRefused(policy, reason)
    }

    @Test(arguments: ["2012-10-17", "2008-10-17"])
    func bothVersionsParse(version: String) throws {
        let policy = try PolicyDocument.parse(
            #"{"Version": "\#(version)", "Id": "p", "Statement": {"Sid": "s", "Effect": "Allow", "Principal": "*", "#
                + #""Action": "kms:*"}}"#,
            kind: .resource)
        #expect(policy.version == version)
        #expect(policy.id == "p")
        #expect(policy.statements[0].sid == "s")
    }

    // MARK: Regression

    /// The default key policy (pretty-printed, with " : " separators) and a policy in every
    /// whitespace JSON allows still parse.
    @Test(arguments: ["aws", "aws-cn", "aws-us-gov"])
    func theDefaultKeyPolicyStillParses(partition: String) throws {
        let policy = try PolicyDocument.parse(
            DefaultKeyPolicy.document(partition: partition, account: "111122223333"), kind: .resource)
        #expect(policy.statements.count == 1)
        let spaced =
            " \t\r\n{ \"Statement\" :\n[ { \"Effect\"\t: \"Allow\" , \"Principal\" : \"*\" , \"Action\" : [ ] } ] }\n"
        Self.expectRefused(spaced, "Action must be")
    }

    /// Seeded mutations of a real policy: every one either parses or is refused with
    /// MalformedPolicyDocumentException; none traps.
    @Test func mutatedPoliciesAreParsedOrRefusedNeverTrapped() {
        let base = Array(
            #"""
            {"Version":"2012-10-17","Statement":[{"Sid":"a\u0041","Effect":"Deny",\#
            "Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]},
            "Action":["kms:Decrypt"],"Resource":"*","Condition":{"NumericLessThan":{"kms:RotationPeriodInDays":[90,\#
            1.5e1]},
            "Bool":{"aws:SecureTransport":false},"StringEquals":{"kms:ViaService":"\ud83d\ude00"}}}]}
            """#.utf8)
        let alphabet = Array(#"{}[]":,\u0123456789eE.-+ tfnrsa"#.utf8) + [0x00, 0x1F, 0x80, 0xFF, 0xEF, 0xBB, 0xBF]
        var random = SplitMix64(seed: PropertySeed.caseSeed(15))
        var parsed = 0
        for _ in 0..<3_000 {
            var bytes = base
            for _ in 0..<(1 + random.below(3)) {
                let at = random.below(bytes.count)
                switch random.below(3) {
                case 0: bytes[at] = random.pick(alphabet)
                case 1: bytes.insert(random.pick(alphabet), at: at)
                default: bytes.remove(at: at)
                }
            }
            do {
                _ = try PolicyDocument.parse(String(decoding: bytes, as: UTF8.self), kind: .resource)
                parsed += 1
            } catch {
                #expect(error.code == .malformedPolicyDocument)
            }
        }
        #expect(parsed > 0)
    }

    /// Not a timed assertion: parsing a policy near the 32 KiB limit, so a slow parser shows.
    @Test func aLargePolicyParses() throws {
        let statement =
            #"{"Sid":"S","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"#
            + #""Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*","#
            + #""Condition":{"StringEquals":{"kms:EncryptionContext:app":["web","db"]}}}"#
        let count = 30_000 / (statement.utf8.count + 1)
        let text =
            #"{"Version":"2012-10-17","Statement":["# + Array(repeating: statement, count: count).joined(separator: ",")
            + "]}"
        let clock = ContinuousClock()
        var policy: PolicyDocument?
        let elapsed = try clock.measure {
            for _ in 0..<20 { policy = try PolicyDocument.parse(text, kind: .resource) }
        }
        #expect(policy?.statements.count == count)
        let foundation = try clock.measure {
            for _ in 0..<20 { _ = try JSONSerialization.jsonObject(with: Data(text.utf8)) }
        }
        let reader = try clock.measure {
            for _ in 0..<20 { _ = try StrictJSON.parse(text) }
        }
        print(
            "parsed a \(text.utf8.count)-byte policy of \(count) statements in \(elapsed / 20) each (its JSON alone: "
                + "StrictJSON \(reader / 20), JSONSerialization \(foundation / 20))"
        )
    }
}
