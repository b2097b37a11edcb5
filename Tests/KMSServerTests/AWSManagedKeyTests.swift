import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

@Suite struct AWSManagedKeyTests {
    @Test func appearsOnFirstUseAndIsTheServicesToManage() async throws {
        let stack = try await KMSStack.start()
        let other = try await stack.secondKMSD()
        let kmsB = try other.client(credentials: stack.adminCredentials)
        let kms = stack.client

        // Two kmsd naming it at once still make exactly one key.
        async let a = kms.describe("alias/aws/s3")
        async let b = kmsB.describe("alias/aws/s3")
        let (first, second) = try await (a, b)
        #expect(first.keyID == second.keyID)
        #expect(first.keyManager == .aws)
        #expect(first.description_p.contains("s3"))
        #expect(try await kms.describe("alias/aws/s3").keyID == first.keyID)

        var list = KMSListAliasesRequest()
        list.keyID = first.keyID
        #expect(try await kms.call(KMSMethod.listAliases, list).aliases.map(\.aliasName) == ["alias/aws/s3"])

        // Its policy admits cryptography only through its service (kms:ViaService), as AWS's does.
        #expect(await code { _ = try await kms.encrypt("alias/aws/s3", [1]) } == "AccessDeniedException")
        // And nobody may change it.
        var put = KMSPutKeyPolicyRequest()
        put.keyID = first.keyID
        put.policy =
            "{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"111122223333\"}, \"Action\": "
            + "\"kms:*\", \"Resource\": \"*\"}}"
        #expect(await code { _ = try await kms.call(KMSMethod.putKeyPolicy, put) } != nil)
        #expect(await code { try await kms.setEnabled(first.keyID, false) } != nil)
        var schedule = KMSScheduleKeyDeletionRequest()
        schedule.keyID = first.keyID
        #expect(await code { _ = try await kms.call(KMSMethod.scheduleKeyDeletion, schedule) } != nil)
        var delete = KMSDeleteAliasRequest()
        delete.aliasName = "alias/aws/s3"
        #expect(await code { _ = try await kms.call(KMSMethod.deleteAlias, delete) } == "InvalidAliasNameException")
        #expect(try await kms.describe(first.keyID).keyState == .enabled)

        #expect(await code { _ = try await kms.describe("alias/aws/Not_A_Service") } == "NotFoundException")
        await kmsB.close()
        await other.stop()
        await stack.stop()
    }
}
