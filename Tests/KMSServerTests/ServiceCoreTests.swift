import Foundation
import KMSDomain
import KMSProto
import KMSStore
import KMSTestSupport
import Testing

@testable import KMSServer

/// The service's operations in-process, called as the handler table calls them: a `KMSService`
/// over the in-memory database, kms-cryptod's logic in-process (`InProcessCryptoBackend`) and
/// the real `PolicyGate` (`ServiceCore`). No process, no PostgreSQL, no sleep.
@Suite struct ServiceCoreTests {
    static let account = "111122223333"
    static let other = "444455556666"
    static let region = "us-east-1"
    static let root = "arn:aws:iam::111122223333:root"
    static let otherRoot = "arn:aws:iam::444455556666:root"
    static let alice = "arn:aws:iam::111122223333:user/alice"

    /// Runs `body` with a service over a fresh in-memory database, audited (`ServiceCore`).
    static func withService(_ body: (KMSService) async throws -> Void) async throws {
        try await ServiceCore.with { try await body($0.service) }
    }

    static func caller(_ principal: String = Self.root) -> Caller {
        Caller(account: PrincipalRecord.account(ofARN: principal)!, region: Self.region, principalARN: principal)
    }

    static func createKey(_ service: KMSService, policy: String? = nil) async throws -> String {
        var request = KMSCreateKeyRequest()
        if let policy { request.policy = policy }
        return try await service.createKey(request, caller: Self.caller()).keyMetadata.arn
    }

    static func enable(_ service: KMSService, _ keyID: String) async throws {
        var request = KMSEnableKeyRequest()
        request.keyID = keyID
        _ = try await service.enableKey(request, caller: Self.caller())
    }

    static func encrypt(_ service: KMSService, _ keyID: String, as principal: String = Self.root) async throws
        -> Data
    {
        var request = KMSEncryptRequest()
        request.keyID = keyID
        request.plaintext = Data("secret".utf8)
        request.encryptionContext = ["purpose": "test"]
        return try await service.encrypt(request, caller: Self.caller(principal)).ciphertextBlob
    }

    static func decrypt(_ service: KMSService, _ blob: Data, as principal: String = Self.root) async throws -> Data {
        var request = KMSDecryptRequest()
        request.ciphertextBlob = blob
        request.encryptionContext = ["purpose": "test"]
        return try await service.decrypt(request, caller: Self.caller(principal)).plaintext
    }

    /// Runs `body`, expecting it to throw a KMSError with `code`.
    static func expect(_ code: KMSError.Code, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected \(code.rawValue), but it succeeded")
        } catch let error as KMSError {
            #expect(error.code == code, "\(error)")
        } catch {
            Issue.record("expected \(code.rawValue), got \(error)")
        }
    }

    @Test func aKeyEncryptsAndDecryptsItsOwnCiphertext() async throws {
        try await Self.withService { service in
            let key = try await Self.createKey(service)
            let blob = try await Self.encrypt(service, key)
            #expect(try await Self.decrypt(service, blob) == Data("secret".utf8))
            var wrong = KMSDecryptRequest()
            wrong.ciphertextBlob = blob
            wrong.encryptionContext = ["purpose": "other"]
            await Self.expect(.invalidCiphertext) { _ = try await service.decrypt(wrong, caller: Self.caller()) }
        }
    }

    @Test func anotherAccountDecryptsOnlyWhenTheKeyPolicyAllowsIt() async throws {
        try await Self.withService { service in
            let key = try await Self.createKey(service)
            let blob = try await Self.encrypt(service, key)
            await Self.expect(.accessDenied) { _ = try await Self.decrypt(service, blob, as: Self.otherRoot) }

            var put = KMSPutKeyPolicyRequest()
            put.keyID = key
            put.policy = """
                {"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":{"AWS":"\(Self.root)"},"Action":"kms:*","Resource":"*"},
                {"Effect":"Allow","Principal":{"AWS":"\(Self.otherRoot)"},"Action":"kms:Decrypt","Resource":"*"}]}
                """
            _ = try await service.putKeyPolicy(put, caller: Self.caller())
            #expect(try await Self.decrypt(service, blob, as: Self.otherRoot) == Data("secret".utf8))
            await Self.expect(.accessDenied) { _ = try await Self.encrypt(service, key, as: Self.otherRoot) }
        }
    }

    @Test func aDisabledKeyRefusesToEncryptUntilEnabled() async throws {
        try await Self.withService { service in
            let key = try await Self.createKey(service)
            var disable = KMSDisableKeyRequest()
            disable.keyID = key
            _ = try await service.disableKey(disable, caller: Self.caller())
            await Self.expect(.disabled) { _ = try await Self.encrypt(service, key) }
            try await Self.enable(service, key)
            _ = try await Self.encrypt(service, key)
        }
    }

    @Test func aKeyPendingDeletionRefusesToEncryptAndCancellingLeavesItDisabled() async throws {
        try await Self.withService { service in
            let key = try await Self.createKey(service)
            var schedule = KMSScheduleKeyDeletionRequest()
            schedule.keyID = key
            schedule.pendingWindowInDays = 7
            let scheduled = try await service.scheduleKeyDeletion(schedule, caller: Self.caller())
            #expect(scheduled.keyState == .pendingDeletion)
            await Self.expect(.invalidState) { _ = try await Self.encrypt(service, key) }

            var cancel = KMSCancelKeyDeletionRequest()
            cancel.keyID = key
            _ = try await service.cancelKeyDeletion(cancel, caller: Self.caller())
            // As in AWS, a cancelled deletion leaves the key disabled.
            await Self.expect(.disabled) { _ = try await Self.encrypt(service, key) }
            try await Self.enable(service, key)
            _ = try await Self.encrypt(service, key)
        }
    }

    @Test func anAliasNamesItsKeyForEncrypt() async throws {
        try await Self.withService { service in
            let key = try await Self.createKey(service)
            await Self.expect(.notFound) { _ = try await Self.encrypt(service, "alias/app") }
            var alias = KMSCreateAliasRequest()
            alias.aliasName = "alias/app"
            alias.targetKeyID = key
            _ = try await service.createAlias(alias, caller: Self.caller())
            let blob = try await Self.encrypt(service, "alias/app")
            #expect(try await Self.decrypt(service, blob) == Data("secret".utf8))
        }
    }

    @Test func aGrantLetsItsGranteeEncryptUntilRetired() async throws {
        try await Self.withService { service in
            let key = try await Self.createKey(service)
            await Self.expect(.accessDenied) { _ = try await Self.encrypt(service, key, as: Self.alice) }
            var create = KMSCreateGrantRequest()
            create.keyID = key
            create.granteePrincipal = Self.alice
            create.operations = [.encrypt, .retireGrant]
            let grant = try await service.createGrant(create, caller: Self.caller())
            _ = try await Self.encrypt(service, key, as: Self.alice)

            var retire = KMSRetireGrantRequest()
            retire.keyID = key
            retire.grantID = grant.grantID
            _ = try await service.retireGrant(retire, caller: Self.caller(Self.alice))
            await Self.expect(.accessDenied) { _ = try await Self.encrypt(service, key, as: Self.alice) }
        }
    }
}
