import KMSDomain
import Testing

@Suite struct KeyReferenceTests {
    let id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    var keyID: KeyID { KeyID(self.id)! }

    @Test func parsesTheFourForms() throws {
        #expect(try KeyReference.parse(id) == .keyID(keyID))
        #expect(try KeyReference.parse(id.uppercased()) == .keyID(keyID))
        #expect(try KeyReference.parse("alias/app") == .aliasName("alias/app"))
        let keyARN = try KeyReference.parse("arn:aws:kms:us-east-1:111122223333:key/\(id)")
        guard case .keyARN(let arn) = keyARN else {
            Issue.record("\(keyARN)")
            return
        }
        #expect(arn.region == "us-east-1")
        #expect(arn.account == "111122223333")
        #expect(arn.resource == .key(id: keyID))
        let aliasARN = try KeyReference.parse("arn:aws-cn:kms:cn-north-1:111122223333:alias/app/x")
        guard case .aliasARN(let alias) = aliasARN else {
            Issue.record("\(aliasARN)")
            return
        }
        #expect(alias.partition == "aws-cn")
        #expect(alias.resource == .alias(name: "alias/app/x"))
        #expect(alias.description == "arn:aws-cn:kms:cn-north-1:111122223333:alias/app/x")
    }

    @Test(arguments: [
        "", "key/123", "1234abcd", "arn:aws:kms:us-east-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:111122223333:key/not-a-uuid", "arn:aws:kms:us-east-1:111122223333:grant/x",
    ])
    func refusesWhatIsNoKeyReference(text: String) {
        #expect(throws: KMSError.self) { try KeyReference.parse(text) }
    }

    /// A text that starts as an ARN but is no KMS ARN is InvalidArnException (issue 20, 1.8);
    /// a length out of bounds names the bound broken.
    @Test func malformedARNsAndLengths() {
        for text in [
            "arn:aws:kms:us-east-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/not-a-uuid", "arn:aws:kms:us-east-1:111122223333:key",
        ] {
            #expect(throws: KMSError(.invalidArn, "Invalid arn \(text)")) { try KeyReference.parse(text) }
        }
        #expect(
            throws: KMSError.validation(
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have "
                    + "length greater than or equal to 1")
        ) { try KeyReference.parse("") }
        #expect(
            throws: KMSError.validation(
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have "
                    + "length less than or equal to 2048")
        ) { try KeyReference.parse(String(repeating: "k", count: 2049)) }
    }

    @Test func keyOnlyOperationsRefuseAliases() {
        #expect(throws: KMSError.self) { try KeyReference.parse("alias/app", accepting: .keyOnly) }
        #expect(throws: KMSError.self) {
            try KeyReference.parse("arn:aws:kms:us-east-1:111122223333:alias/app", accepting: .keyOnly)
        }
        #expect(throws: Never.self) { try KeyReference.parse(self.id, accepting: .keyOnly) }
    }

    @Test func tooLongIsAValidationError() {
        do {
            _ = try KeyReference.parse(String(repeating: "a", count: 2049))
            Issue.record("accepted")
        } catch {
            #expect(error.code == .validation)
        }
    }
}

@Suite struct AliasNameTests {
    @Test(arguments: ["alias/a", "alias/my-app_1/prod", "alias/" + String(repeating: "x", count: 250)])
    func acceptsValidNames(name: String) {
        #expect(throws: Never.self) { try AliasName.validate(name, creating: true) }
    }

    @Test(arguments: [
        ("app", KMSError.Code.validation), ("alias/", .invalidAliasName), ("alias/aws/s3", .invalidAliasName),
        ("alias/a b", .validation), ("alias/ü", .validation), ("", .validation),
        ("alias/" + String(repeating: "x", count: 251), .validation),
    ])
    func refusesInvalidNames(name: String, expected: KMSError.Code) {
        do {
            try AliasName.validate(name, creating: true)
            Issue.record("accepted \(name)")
        } catch {
            #expect(error.code == expected)
        }
    }

    @Test func awsPrefixIsOnlyRefusedWhenCreating() {
        #expect(throws: Never.self) { try AliasName.validate("alias/aws/s3", creating: false) }
    }
}

@Suite struct LimitsTests {
    @Test func messagesNameTheFieldAndTheConstraint() {
        do {
            try Limits.check(4097, in: Limits.plaintextBytes, field: "plaintext")
            Issue.record("accepted")
        } catch {
            #expect(
                error.message
                    == "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must "
                    + "have length less than or equal to 4096"
            )
        }
    }
}
