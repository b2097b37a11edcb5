import KMSDomain
import Testing

/// Alias names as AWS checks them: the model's length and pattern first (ValidationException in
/// its words), then the `alias/` prefix (ValidationException), then KMS's own rules.
@Suite struct AliasNameMessageTests {
    static func refusal(_ name: String, creating: Bool = true) -> KMSError? {
        do {
            try AliasName.validate(name, creating: creating)
            return nil
        } catch {
            return error
        }
    }

    @Test func theModelsPatternAllowsColons() {
        #expect(Self.refusal("alias/team:payments_2-b/x") == nil)
    }

    @Test func charactersOutsideThePatternAreRefusedQuotingIt() throws {
        let error = try #require(Self.refusal("alias/has space"))
        #expect(error.code == .validation)
        #expect(
            error.message
                == "1 validation error detected: Value 'alias/has space' at 'aliasName' failed to satisfy constraint: "
                + "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
    }

    @Test func lengthsNameTheBoundBroken() throws {
        let long = "alias/" + String(repeating: "a", count: 251)
        let error = try #require(Self.refusal(long))
        #expect(error.code == .validation)
        #expect(error.message.hasSuffix("Member must have length less than or equal to 256"))
        let empty = try #require(Self.refusal(""))
        #expect(
            empty.message
                == "1 validation error detected: Value '' at 'aliasName' failed to satisfy constraint: Member must "
                + "have length greater than or equal to 1")
        let both = try #require(Self.refusal(String(repeating: "é", count: 300)))
        #expect(both.message.hasPrefix("2 validation errors detected: "))
    }

    @Test func aNameWithoutThePrefixIsAValidationError() throws {
        let error = try #require(Self.refusal("payments"))
        #expect(error.code == .validation)
        #expect(
            error.message
                == "Alias must start with the prefix \"alias/\". Please see "
                + "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
    }

    @Test func kmsOwnRulesComeLast() {
        #expect(Self.refusal("alias/")?.code == .invalidAliasName)
        #expect(Self.refusal("alias/aws/s3")?.code == .invalidAliasName)
        #expect(Self.refusal("alias/aws/s3", creating: false) == nil)
    }

    @Test func predefinedAliasesAreInNameOrderAndAWSManaged() {
        let names = AWSManagedServices.predefinedAliases
        #expect(names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(names.allSatisfy { AWSManagedServices.service(ofAlias: $0) != nil })
        #expect(names.count == 14)
    }
}
