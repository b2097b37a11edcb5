import Foundation
import KMSDomain
import KMSProto
import KMSRPC
import KMSStore
import KMSTestSupport
import SwiftProtobuf
import Testing

@testable import KMSServer

/// Requests through the service's handler table in-process (`ServiceCore`), audited by the
/// in-memory audit log, their callers authenticated by the real `PolicyGate` from principals,
/// access keys and identity policies in the in-memory database; then read back with the admin
/// operations that read the log: ListAuditRecords, VerifyAuditLog, GetUsage.
@Suite struct ServiceCoreAuditTests {
    static let account = ServiceCoreTests.account
    static let admin = "arn:aws:iam::111122223333:user/admin"
    static let alice = ServiceCoreTests.alice
    static let bob = "arn:aws:iam::111122223333:user/bob"
    static let aliceKey = "AKIAALICE00000000001"

    /// Alice signs with her access key (AWS JSON); the admin and Bob come with a certificate.
    static let asAlice = RPCIdentity(principalARN: Self.alice, accessKeyID: Self.aliceKey, method: .signature)
    static let asAdmin = RPCIdentity(principalARN: Self.admin, method: .certificate)
    static let asBob = RPCIdentity(principalARN: Self.bob, method: .certificate)

    /// The account, its root, an admin, Alice (an access key, and an identity policy allowing
    /// her every KMS action) and Bob (no policy: the default key policy lets him do nothing).
    static func populate(_ database: InMemoryDatabase) async throws {
        let now = Date()
        let root = PrincipalRecord(
            arn: ServiceCoreTests.root, accountID: Self.account, kind: .root, name: "root", isAdmin: false,
            creationDate: now)
        #expect(
            try await database.insertAccount(
                AccountRecord(accountID: Self.account, name: "test", creationDate: now), root: root, audit: nil))
        for (arn, isAdmin) in [(Self.admin, true), (Self.alice, false), (Self.bob, false)] {
            let name = String(arn.split(separator: "/").last!)
            #expect(
                try await database.insertPrincipal(
                    PrincipalRecord(
                        arn: arn, accountID: Self.account, kind: .user, name: name, isAdmin: isAdmin,
                        creationDate: now),
                    audit: nil))
        }
        let key = AccessKeyRecord(
            accessKeyID: Self.aliceKey, principalARN: Self.alice, status: .active, wrappedSecret: [1, 2, 3],
            creationDate: now)
        #expect(try await database.insertAccessKey(key, rootKeyID: UUID(), audit: nil) == .inserted)
        let policy = IdentityPolicyRecord(
            principalARN: Self.alice, name: "kms",
            document: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#)
        #expect(try await database.putPolicy(policy, audit: nil) == .stored)
    }

    static func withCore(_ body: (ServiceCore) async throws -> Void) async throws {
        try await ServiceCore.with { core in
            try await Self.populate(core.database)
            try await body(core)
        }
    }

    static func createKey(_ core: ServiceCore) async throws -> String {
        try await core.call(KMSMethod.createKey, KMSCreateKeyRequest(), as: Self.asAlice).keyMetadata.arn
    }

    static func encrypt(_ core: ServiceCore, _ key: String, as identity: RPCIdentity = Self.asAlice) async throws
        -> Data
    {
        var request = KMSEncryptRequest()
        request.keyID = key
        request.plaintext = Data("secret".utf8)
        request.encryptionContext = ["purpose": "test"]
        return try await core.call(KMSMethod.encrypt, request, as: identity).ciphertextBlob
    }

    static func list(_ core: ServiceCore, _ change: (inout AdminListAuditRecordsRequest) -> Void = { _ in })
        async throws -> AdminListAuditRecordsResponse
    {
        var request = AdminListAuditRecordsRequest()
        change(&request)
        return try await core.call(AdminMethod.listAuditRecords, request, as: Self.asAdmin)
    }

    /// Runs `body`, expecting it to throw a KMSError with `code`.
    static func expect(_ code: KMSError.Code, _ body: () async throws -> Void) async {
        await ServiceCoreTests.expect(code, body)
    }

    @Test func requestsAreRecordedAsTheirCallersAndListedInPages() async throws {
        try await Self.withCore { core in
            let key = try await Self.createKey(core)
            let blob = try await Self.encrypt(core, key)
            var decrypt = KMSDecryptRequest()
            decrypt.ciphertextBlob = blob
            decrypt.encryptionContext = ["purpose": "test"]
            _ = try await core.call(KMSMethod.decrypt, decrypt, as: Self.asAlice)

            let listed = try await Self.list(core)
            #expect(listed.records.map(\.operation) == ["CreateKey", "Encrypt", "Decrypt"])
            #expect(listed.records.map(\.sequence) == [1, 2, 3])
            #expect(listed.records.allSatisfy { $0.principalArn == Self.alice && $0.accessKeyID == Self.aliceKey })
            #expect(listed.records.allSatisfy { $0.transport == "aws-json" && $0.sourceIp == "10.1.2.3" })
            #expect(listed.records.allSatisfy { $0.errorCode.isEmpty && $0.chainID == AuditRecord.defaultChain })
            #expect(listed.records[1].keyArns == [key])
            #expect(listed.records[1].encryptionContext == ["purpose": "test"])
            #expect(listed.nextMarker.isEmpty)
            // CreateKey's record was committed with the key, then chained: once, and out of the outbox.
            #expect(core.database.committedAudits.isEmpty)

            // The listing itself is recorded; pages of two go on by their markers.
            let first = try await Self.list(core) { $0.limit = 2 }
            #expect(first.records.map(\.operation) == ["CreateKey", "Encrypt"])
            let second = try await Self.list(core) {
                $0.limit = 2
                $0.marker = first.nextMarker
            }
            #expect(second.records.map(\.operation) == ["Decrypt", "ListAuditRecords"])
            #expect(second.records.last?.principalArn == Self.admin)
            #expect(second.records.last?.transport == "binary")
            let decrypts = try await Self.list(core) { $0.operation = "Decrypt" }
            #expect(decrypts.records.map(\.sequence) == [3])
            await Self.expect(.accessDenied) {
                _ = try await core.call(AdminMethod.listAuditRecords, .init(), as: Self.asAlice)
            }
        }
    }

    @Test func refusedRequestsAreRecordedAsRefused() async throws {
        try await Self.withCore { core in
            let key = try await Self.createKey(core)
            // Bob is known but allowed nothing; a principal nobody created is not even a caller.
            await Self.expect(.accessDenied) { _ = try await Self.encrypt(core, key, as: Self.asBob) }
            let stranger = RPCIdentity(principalARN: "arn:aws:iam::111122223333:user/nobody", method: .certificate)
            await Self.expect(.unrecognizedClient) { _ = try await Self.encrypt(core, key, as: stranger) }
            // An access key that is not Alice's does not make her caller.
            let forged = RPCIdentity(principalARN: Self.alice, accessKeyID: "AKIAFORGED0000000001", method: .signature)
            await Self.expect(.unrecognizedClient) { _ = try await Self.encrypt(core, key, as: forged) }
            // While the log cannot be written, requests are refused before they do anything.
            core.log.refusing = true
            await Self.expect(.internalFailure) { _ = try await Self.createKey(core) }
            core.log.refusing = false

            let refused = try await Self.list(core).records.filter { !$0.errorCode.isEmpty }
            #expect(
                refused.map { "\($0.operation) \($0.principalArn) \($0.errorCode)" } == [
                    "Encrypt \(Self.bob) AccessDeniedException",
                    "Encrypt arn:aws:iam::111122223333:user/nobody UnrecognizedClientException",
                    "Encrypt \(Self.alice) UnrecognizedClientException",
                    "CreateKey \(Self.alice) KMSInternalException",
                ])
            #expect(refused.first?.keyArns == [key])
            let denied = try await Self.list(core) { $0.errorCode = "AccessDeniedException" }
            #expect(denied.records.map(\.principalArn) == [Self.bob])
            // The refused CreateKey made no key.
            var list = KMSListKeysRequest()
            list.limit = 10
            #expect(try await core.call(KMSMethod.listKeys, list, as: Self.asAlice).keys.map(\.keyArn) == [key])
        }
    }

    @Test func theLogVerifiesIntactWithACheckpointPerRecordUntilOneIsEdited() async throws {
        try await Self.withCore { core in
            let key = try await Self.createKey(core)
            _ = try await Self.encrypt(core, key)
            await Self.expect(.accessDenied) { _ = try await Self.encrypt(core, key, as: Self.asBob) }

            let verified = try await core.call(AdminMethod.verifyAuditLog, .init(), as: Self.asAdmin)
            #expect(verified.intact, "\(verified.reason)")
            #expect(verified.recordsChecked == 3)
            #expect(verified.chainsChecked == 1)
            #expect(verified.checkpointsChecked == 3)
            #expect(verified.chains.map(\.recordsAfterCheckpoint) == [0])
            // The verification's own record joins the chain, checkpointed too.
            let again = try await core.call(AdminMethod.verifyAuditLog, .init(), as: Self.asAdmin)
            #expect(again.intact && again.recordsChecked == 4 && again.checkpointsChecked == 4)

            // A record edited behind the service's back breaks the chain where it was edited.
            #expect(
                try core.database.editAuditRecords(chain: AuditRecord.defaultChain, firstSequence: 2) {
                    $0[0].entry.operation = "Decrypt"
                })
            let edited = try await core.call(AdminMethod.verifyAuditLog, .init(), as: Self.asAdmin)
            #expect(!edited.intact)
            #expect(edited.firstBrokenChain == AuditRecord.defaultChain && edited.firstBrokenSequence == 2)
        }
    }

    @Test func usageCountsRequestsBillsKeysAndEstimatesACache() async throws {
        try await Self.withCore { core in
            let key = try await Self.createKey(core)
            let doomed = try await Self.createKey(core)
            _ = try await Self.encrypt(core, key)
            _ = try await Self.encrypt(core, key)
            await Self.expect(.accessDenied) { _ = try await Self.encrypt(core, key, as: Self.asBob) }
            var generate = KMSGenerateDataKeyRequest()
            generate.keyID = key
            generate.keySpec = .aes256
            generate.encryptionContext = ["tenant": "a"]
            for _ in 0..<3 { _ = try await core.call(KMSMethod.generateDataKey, generate, as: Self.asAlice) }
            var schedule = KMSScheduleKeyDeletionRequest()
            schedule.keyID = doomed
            schedule.pendingWindowInDays = 7
            _ = try await core.call(KMSMethod.scheduleKeyDeletion, schedule, as: Self.asAlice)

            var request = AdminGetUsageRequest()
            request.cacheSeconds = 300
            let usage = try await core.call(AdminMethod.getUsage, request, as: Self.asAdmin)
            let lines = usage.requests.filter { $0.keyArn == key }.map { "\($0.operation) \($0.requests)/\($0.failed)" }
            #expect(lines == ["CreateKey 1/0", "Encrypt 3/1", "GenerateDataKey 3/0"])
            #expect(usage.busiestKeyArn == key)
            #expect(usage.keys.map(\.keyArn).sorted() == [key, doomed].sorted())
            #expect(usage.keys.allSatisfy { !$0.deleted && $0.keyManager == "CUSTOMER" })
            // The key pending deletion is billed until its deletion was scheduled: just now.
            #expect(try #require(usage.keys.first { $0.keyArn == doomed }).hours < 0.01)
            #expect(
                usage.cacheEstimates.map { "\($0.operation) \($0.requests)/\($0.requestsWithCache)" } == [
                    "GenerateDataKey 3/1"
                ])
            #expect(usage.cacheSavings > 0)
        }
    }
}
