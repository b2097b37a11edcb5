import Foundation
import KMSProto
import PostgresNIO
import Testing

extension MatrixWorld {
    /// How many AWS managed keys exist in `account`, read behind the service's back (nothing
    /// else in the suite makes AWS managed keys, so the count is stable while the matrix runs).
    func awsManagedKeyCount(account: String) async throws -> Int64 {
        try await self.stack.database.withClient { client in
            let rows = try await client.query(
                "SELECT count(*)::int8 FROM kms_keys WHERE account_id = \(account) AND key_manager = 'AWS'",
                logger: Logger(label: "matrix")
            )
            var count: Int64 = 0
            for try await value in rows.decode(Int64.self) { count = value }
            return count
        }
    }
}

extension AuthorizationMatrixTests {
    /// Issue 15, item 2. An AWS managed key exists for the predefined `alias/aws/<service>` names
    /// of real AWS services only, in the caller's own account and region, and naming one writes
    /// nothing for a caller who is refused. DescribeKey on such an alias "creates an AWS managed
    /// key" when there is none yet (DescribeKey API reference), which is the control here.
    /// The protocols run one after the other so the counts belong to one of them at a time.
    @Test func awsManagedKeysAreMadeOnlyForRealServicesInTheCallersOwnAccount() async throws {
        let world = try Self.world
        let admin = world.party(.admin)
        let nobody = world.party(.nobody)
        let stranger = world.party(.stranger)
        let uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/
        for (transport, service) in [(MatrixProtocol.binary, "s3"), (.awsJSON, "ebs")] {
            let accounts = [Matrix.accountA, Matrix.accountB, "999988887777"]
            var before: [String: Int64] = [:]
            for account in accounts { before[account] = try await world.awsManagedKeyCount(account: account) }
            func code(_ party: MatrixParty, _ request: MatrixRequest) async -> MatrixOutcome {
                await party.call(request, via: transport)
            }

            // No such service.
            expectCode(
                await code(admin, MatrixRequests.describeKey("alias/aws/no-such-service")), Matrix.notFound,
                "\(transport): alias/aws/no-such-service")
            // Another account's alias ARN (existing or not) and another region's: not the caller's to create.
            for arn in [
                "arn:aws:kms:\(Matrix.region):999988887777:alias/aws/\(service)",
                "arn:aws:kms:\(Matrix.region):\(Matrix.accountB):alias/aws/\(service)",
                "arn:aws:kms:\(Matrix.otherRegion):\(Matrix.accountA):alias/aws/\(service)",
            ] {
                expectCode(await code(admin, MatrixRequests.describeKey(arn)), Matrix.notFound, "\(transport): \(arn)")
            }
            // A caller without permission, in its own account or naming another's: refused, and
            // the refusal names no key.
            let own = await code(nobody, MatrixRequests.encrypt("alias/aws/\(service)"))
            expectCode(own, Matrix.accessDenied, "\(transport): a caller without permission in its own account")
            #expect(own.message.firstMatch(of: uuid) == nil, "\(transport): \(own.message)")
            let across = await code(
                stranger, MatrixRequests.encrypt("arn:aws:kms:\(Matrix.region):\(Matrix.accountA):alias/aws/\(service)")
            )
            expectCode(across, Matrix.notFound, "\(transport): account B naming account A's alias ARN")
            #expect(across.message.firstMatch(of: uuid) == nil, "\(transport): \(across.message)")

            for account in accounts {
                #expect(
                    try await world.awsManagedKeyCount(account: account) == before[account],
                    "\(transport): keys made in \(account)")
            }
            // The control: the admin naming its own account's key makes exactly one.
            expectCode(
                await code(admin, MatrixRequests.describeKey("alias/aws/\(service)")), Matrix.ok,
                "\(transport): the admin's own alias/aws/\(service)")
            #expect(
                try await world.awsManagedKeyCount(account: Matrix.accountA) == before[Matrix.accountA]! + 1,
                "\(transport)")
        }
    }
}
