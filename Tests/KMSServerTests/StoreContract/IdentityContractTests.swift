import Foundation
import KMSDomain
import KMSServer
import KMSStore
import Testing

/// `IdentityStoring`'s contract.
@Suite struct IdentityStoreContractTests {
    static let account = Fixture.account

    static func principal(_ name: String, kind: PrincipalRecord.Kind = .user, admin: Bool = false) -> PrincipalRecord {
        PrincipalRecord(
            arn: PrincipalRecord.arn(partition: "aws", account: Self.account, kind: kind, name: name),
            accountID: Self.account, kind: kind, name: name, isAdmin: admin, creationDate: Fixture.created)
    }

    static func accessKey(_ id: String, of principal: PrincipalRecord, at offset: TimeInterval = 0)
        -> AccessKeyRecord
    {
        AccessKeyRecord(
            accessKeyID: id, principalARN: principal.arn, status: .active, wrappedSecret: [1, 2, 3],
            creationDate: Fixture.created.addingTimeInterval(offset))
    }

    static let rootKeyID = UUID(uuidString: "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")!

    @Test(arguments: StoreBackend.allCases)
    func anAccountComesWithItsRootPrincipalAndPrincipalsNeedTheirAccount(_ backend: StoreBackend) async throws {
        try await backend.run { (stores) async throws in
            let account = AccountRecord(accountID: Self.account, name: "ops", creationDate: Fixture.created)
            let root = Self.principal("", kind: .root, admin: true)
            let audit = Fixture.audit("CreateAccount")
            #expect(try await stores.identities.insertAccount(account, root: root, audit: audit))
            #expect(audit.committed)
            let again = Fixture.audit("CreateAccount")
            #expect(!(try await stores.identities.insertAccount(account, root: root, audit: again)))
            #expect(!again.committed)
            await #expect(throws: (any Error).self) {
                let bad = AccountRecord(accountID: "12345", name: "short", creationDate: Fixture.created)
                _ = try await stores.identities.insertAccount(bad, root: root, audit: nil)
            }
            var stored = account
            stored.creationDate = Fixture.stored(Fixture.created)
            #expect(try await stores.identities.account(Self.account) == stored)
            #expect(try await stores.identities.accounts() == [stored])
            #expect(try await stores.identities.account("999999999999") == nil)
            #expect(try await stores.identities.principal(root.arn)?.isAdmin == true)
            #expect(try await stores.identities.principal(root.arn)?.creationDate == Fixture.stored(Fixture.created))

            let user = Self.principal("app")
            #expect(try await stores.identities.insertPrincipal(user, audit: nil))
            #expect(!(try await stores.identities.insertPrincipal(user, audit: nil)))
            var stranger = Self.principal("stranger")
            stranger.accountID = "999999999999"
            await #expect(throws: (any Error).self) {
                _ = try await stores.identities.insertPrincipal(stranger, audit: nil)
            }
            #expect(try await stores.identities.principals(account: Self.account).map(\.arn) == [root.arn, user.arn])
            #expect(try await stores.identities.principals(account: "999999999999").isEmpty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func accessKeysKeepTheirLimitAndGoWithTheirPrincipal(_ backend: StoreBackend) async throws {
        try await backend.run { (stores) async throws in
            let account = AccountRecord(accountID: Self.account, name: "ops", creationDate: Fixture.created)
            let admin = Self.principal("admin", admin: true)
            let root = Self.principal("", kind: .root)
            #expect(try await stores.identities.insertAccount(account, root: root, audit: nil))
            #expect(try await stores.identities.insertPrincipal(admin, audit: nil))
            #expect(!(try await stores.identities.hasAdminWithAccessKey()))
            let user = Self.principal("app")
            #expect(try await stores.identities.insertPrincipal(user, audit: nil))
            let first = Fixture.audit("CreateAccessKey")
            #expect(
                try await stores.identities.insertAccessKey(
                    Self.accessKey("AK1", of: user, at: 10), rootKeyID: Self.rootKeyID, audit: first) == .inserted)
            #expect(first.committed)
            let duplicate = Fixture.audit("CreateAccessKey")
            #expect(
                try await stores.identities.insertAccessKey(
                    Self.accessKey("AK1", of: admin), rootKeyID: Self.rootKeyID, audit: duplicate) == .duplicateID)
            #expect(!duplicate.committed)
            #expect(
                try await stores.identities.insertAccessKey(
                    Self.accessKey("AK2", of: user, at: 5), rootKeyID: Self.rootKeyID, audit: nil) == .inserted)
            let third = Fixture.audit("CreateAccessKey")
            #expect(
                try await stores.identities.insertAccessKey(
                    Self.accessKey("AK3", of: user), rootKeyID: Self.rootKeyID, audit: third) == .limitReached)
            #expect(!third.committed)
            await #expect(throws: (any Error).self) {
                _ = try await stores.identities.insertAccessKey(
                    Self.accessKey("AK4", of: Self.principal("ghost")), rootKeyID: Self.rootKeyID, audit: nil)
            }
            #expect(try await stores.identities.accessKeys(of: user.arn).map(\.accessKeyID) == ["AK2", "AK1"])
            #expect(
                try await stores.identities.accessKey("AK1")
                    == AccessKeyRecord(
                        accessKeyID: "AK1", principalARN: user.arn, status: .active, wrappedSecret: [1, 2, 3],
                        creationDate: Fixture.stored(Fixture.created.addingTimeInterval(10))))
            #expect(try await stores.identities.accessKey("ak1") == nil)
            #expect(try await stores.identities.setAccessKeyStatus("AK1", .inactive, audit: nil))
            #expect(try await stores.identities.accessKey("AK1")?.status == .inactive)
            #expect(!(try await stores.identities.setAccessKeyStatus("AK9", .inactive, audit: nil)))
            #expect(try await stores.identities.deleteAccessKey("AK2", audit: nil))
            #expect(!(try await stores.identities.deleteAccessKey("AK2", audit: nil)))

            #expect(
                try await stores.identities.insertAccessKey(
                    Self.accessKey("AKA", of: admin), rootKeyID: Self.rootKeyID, audit: nil) == .inserted)
            #expect(try await stores.identities.hasAdminWithAccessKey())

            #expect(
                try await stores.identities.putPolicy(
                    IdentityPolicyRecord(principalARN: user.arn, name: "p", document: "{}"), audit: nil) == .stored)
            let deleted = Fixture.audit("DeleteUser")
            #expect(try await stores.identities.deletePrincipal(user.arn, audit: deleted))
            #expect(deleted.committed)
            #expect(!(try await stores.identities.deletePrincipal(user.arn, audit: nil)))
            #expect(try await stores.identities.accessKey("AK1") == nil)
            #expect(try await stores.identities.policies(of: user.arn).isEmpty)
            // The same ARN again starts with no keys and no policies.
            #expect(try await stores.identities.insertPrincipal(user, audit: nil))
            #expect(try await stores.identities.accessKeys(of: user.arn).isEmpty)
            #expect(try await stores.identities.deletePrincipal(admin.arn, audit: nil))
            #expect(!(try await stores.identities.hasAdminWithAccessKey()))
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func identityPoliciesReplaceByNameAndKeepTheirLimit(_ backend: StoreBackend) async throws {
        try await backend.run { (stores) async throws in
            let account = AccountRecord(accountID: Self.account, name: "ops", creationDate: Fixture.created)
            let root = Self.principal("", kind: .root)
            #expect(try await stores.identities.insertAccount(account, root: root, audit: nil))
            let user = Self.principal("app")
            #expect(try await stores.identities.insertPrincipal(user, audit: nil))
            await #expect(throws: (any Error).self) {
                _ = try await stores.identities.putPolicy(
                    IdentityPolicyRecord(principalARN: Self.principal("ghost").arn, name: "p", document: "{}"),
                    audit: nil)
            }
            for index in 0..<IdentityPolicyRecord.maximumPerPrincipal {
                #expect(
                    try await stores.identities.putPolicy(
                        IdentityPolicyRecord(principalARN: user.arn, name: "p\(index)", document: "{}"), audit: nil)
                        == .stored)
            }
            let over = Fixture.audit("PutUserPolicy")
            #expect(
                try await stores.identities.putPolicy(
                    IdentityPolicyRecord(principalARN: user.arn, name: "extra", document: "{}"), audit: over)
                    == .limitReached)
            #expect(!over.committed)
            let replaced = Fixture.audit("PutUserPolicy")
            #expect(
                try await stores.identities.putPolicy(
                    IdentityPolicyRecord(principalARN: user.arn, name: "p3", document: "{\"v\":2}"), audit: replaced)
                    == .stored)
            #expect(replaced.committed)
            let policies = try await stores.identities.policies(of: user.arn)
            #expect(policies.count == IdentityPolicyRecord.maximumPerPrincipal)
            #expect(policies.map(\.name).prefix(4) == ["p0", "p1", "p10", "p11"])
            #expect(policies.first { $0.name == "p3" }?.document == "{\"v\":2}")
            let deleted = Fixture.audit("DeleteUserPolicy")
            #expect(try await stores.identities.deletePolicy(principalARN: user.arn, name: "p3", audit: deleted))
            #expect(deleted.committed)
            let gone = Fixture.audit("DeleteUserPolicy")
            #expect(!(try await stores.identities.deletePolicy(principalARN: user.arn, name: "p3", audit: gone)))
            #expect(!gone.committed)
            #expect(
                try await stores.identities.putPolicy(
                    IdentityPolicyRecord(principalARN: user.arn, name: "extra", document: "{}"), audit: nil)
                    == .stored)
        }
    }
}
