import Foundation
import KMSDomain
import KMSPolicy
import KMSProto
import KMSStore
import KMSTestSupport
import Testing

@testable import KMSServer

/// Policies parsed once per text and shared (ParsedPolicies): the same decisions as a parse of
/// its own per key, with one document and one copy of the text for every key holding that text.
@Suite struct ParsedPoliciesTests {
    static let policy = DefaultKeyPolicy.document(partition: "aws", account: ServiceCoreTests.account)

    /// A copy of `text` in storage of its own, as a row read from the database is.
    static func copy(_ text: String) -> String { String(decoding: Array(text.utf8), as: UTF8.self) }

    /// Where a string's bytes are: equal for two strings that share their storage.
    static func storage(_ text: String) -> UnsafePointer<UInt8>? {
        text.utf8.withContiguousStorageIfAvailable { $0.baseAddress } ?? nil
    }

    static func storage(_ document: PolicyDocument) -> UnsafeRawPointer? {
        document.statements.withUnsafeBufferPointer { $0.baseAddress.map(UnsafeRawPointer.init) }
    }

    @Test func oneTextIsParsedOnceAndShared() throws {
        let parsed = ParsedPolicies()
        let first = try parsed.parse(Self.copy(Self.policy), kind: .resource)
        let second = try parsed.parse(Self.copy(Self.policy), kind: .resource)
        #expect(first.document == (try PolicyDocument.parse(Self.policy, kind: .resource)))
        #expect(second.text == Self.policy && second.document == first.document)
        #expect(Self.storage(second.text) == Self.storage(first.text))
        #expect(Self.storage(second.document) == Self.storage(first.document))
        #expect(parsed.count == 1)
    }

    @Test func aMalformedPolicyIsRefusedEveryTimeAndNotRemembered() throws {
        let parsed = ParsedPolicies()
        for _ in 0..<2 {
            #expect(throws: KMSError.self) { try parsed.parse(#"{"Statement": 7}"#, kind: .resource) }
            do {
                _ = try parsed.parse(#"{"Statement": 7}"#, kind: .resource)
            } catch {
                #expect(error.code == .malformedPolicyDocument)
            }
        }
        #expect(parsed.count == 0)
        // As stored (validated when written, unreadable now): it denies everything.
        #expect(parsed.stored("{", kind: .resource).document == StoredPolicy.denyAllResource)
        #expect(parsed.stored("{", kind: .identity).document == StoredPolicy.denyAllIdentity)
        #expect(ParsedPolicies.unshared("{", kind: .resource) == StoredPolicy.denyAllResource)
    }

    /// The same text is valid as one kind and not the other: a text parsed as an identity policy
    /// must not pass later as a key policy (which must name a principal), nor the other way round.
    @Test func theKindsAreKeptApart() throws {
        let parsed = ParsedPolicies()
        let identity = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#
        _ = try parsed.parse(identity, kind: .identity)
        #expect(throws: KMSError.self) { try parsed.parse(identity, kind: .resource) }
        _ = try parsed.parse(Self.policy, kind: .resource)
        #expect(throws: KMSError.self) { try parsed.parse(Self.policy, kind: .identity) }
        #expect(parsed.count == 2)
    }

    /// `policy` with a distinct Id, after `padding` spaces.
    static func variant(_ index: Int, padding: Int = 0) -> String {
        Self.policy.replacingOccurrences(
            of: "\"key-default-1\"", with: String(repeating: " ", count: padding) + "\"key-default-\(index)\"")
    }

    @Test func theMapIsBoundedInTextsAndBytes() throws {
        let parsed = ParsedPolicies()
        for index in 0..<ParsedPolicies.capacity { _ = try parsed.parse(Self.variant(index), kind: .resource) }
        #expect(parsed.count == ParsedPolicies.capacity)
        // One more starts the map again; a text already known is still shared after that.
        _ = try parsed.parse(Self.variant(-1), kind: .resource)
        #expect(parsed.count == 1)
        _ = try parsed.parse(Self.variant(-1), kind: .resource)
        #expect(parsed.count == 1)

        // Policies near the largest allowed: the byte budget holds far fewer of them.
        let big = ParsedPolicies()
        let padding = PolicyDocument.maximumBytes - Self.policy.utf8.count - 10
        let fitting = ParsedPolicies.textBudget / (Self.policy.utf8.count + padding + 1)
        for index in 0..<fitting { _ = try big.parse(Self.variant(index, padding: padding), kind: .resource) }
        #expect(big.count == fitting)
        _ = try big.parse(Self.variant(fitting, padding: padding), kind: .resource)
        #expect(big.count == 1)
    }

    /// A key read from the database holds the same document and text as every other key with
    /// that policy, the one CreateKey parsed for the default policy included; its decisions are
    /// those of its own policy.
    @Test func keysReadFromTheDatabaseShareTheirPolicy() async throws {
        try await ServiceCore.with { core in
            core.service.cache.setListening(true)
            var ids: [KeyID] = []
            for _ in 0..<3 {
                let made = try await core.service.createKey(KMSCreateKeyRequest(), caller: ServiceCoreTests.caller())
                ids.append(try #require(KeyID(made.keyMetadata.keyID)))
            }
            for id in ids { core.service.cache.invalidateKey(id) }
            var read: [CachedKey] = []
            for id in ids {
                let blob = try await ServiceCoreTests.encrypt(core.service, id.description)
                #expect(try await ServiceCoreTests.decrypt(core.service, blob) == Data("secret".utf8))
                read.append(try #require(core.service.cache.key(id)))
            }
            #expect(core.service.cache.policies.count == 1)
            for key in read {
                #expect(key.record.policy == read[0].record.policy)
                #expect(Self.storage(key.record.policy) == Self.storage(read[0].record.policy))
                #expect(Self.storage(key.policy) == Self.storage(read[0].policy))
                #expect(key.policy == (try PolicyDocument.parse(key.record.policy, kind: .resource)))
            }
            // Another principal of the same account is still refused by the shared default policy.
            await #expect(throws: KMSError.self) {
                _ = try await ServiceCoreTests.encrypt(core.service, ids[0].description, as: ServiceCoreTests.alice)
            }
        }
    }
}
