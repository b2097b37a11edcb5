import Foundation
import KMSDomain
import KMSProto
import KMSStore

extension KMSService {
    /// The account's AWS managed key for a service as it will be created, held in memory only
    /// until `createAWSManagedKey` makes it real (after the caller is authorized).
    func provisionalAWSManagedKey(account: String, region: String, aliasName: String, service: String) -> CachedKey {
        let keyID = KeyID.random()
        let record = KeyRecord(
            keyID: keyID, arn: self.scope.keyARN(account: account, region: region, keyID: keyID), account: account,
            region: region,
            description: "Default key that protects my \(service) data when no other key is defined",
            state: .enabled, usage: .encryptDecrypt, spec: .symmetricDefault, origin: .awsKMS, manager: .aws,
            creationDate: Date(timeIntervalSince1970: self.now().timeIntervalSince1970.rounded(.down)),
            deletionDate: nil, pendingWindowInDays: nil,
            policy: Self.awsManagedPolicy(
                partition: self.scope.partition, account: account, region: region, service: service),
            currentMaterialID: nil, version: 1,
            // AWS managed keys rotate every year, and nobody can change that.
            rotationPeriodInDays: 365, nextRotationDate: self.now().addingTimeInterval(365 * 86400)
        )
        var key = CachedKey(record: record, materials: [], aliases: [aliasName], policies: self.cache.policies)
        key.pendingAWSManagedAlias = aliasName
        return key
    }

    /// Creates a provisional AWS managed key, as AWS does on first use of its alias. Two kmsd
    /// racing both create one; the alias insert picks the winner and the loser's key is rolled
    /// back with it. Returns the key that holds the alias.
    func createAWSManagedKey(_ provisional: CachedKey) async throws(KMSError) -> CachedKey {
        guard let aliasName = provisional.pendingAWSManagedAlias else { return provisional }
        var record = provisional.record
        let material = try await self.generateMaterial(keyID: record.keyID, keyARN: record.arn)
        record.currentMaterialID = material.materialID
        let stored = record
        let created = try await self.store {
            try await self.stores.keys.insert(stored, material: material, alias: aliasName, tags: [], audit: nil)
        }
        if created {
            self.logger.notice(
                "created AWS managed key", metadata: ["alias": "\(aliasName)", "key_arn": "\(record.arn)"])
            return try await self.loadKey(record.keyID, named: aliasName)
        }
        guard
            let winner = try await self.store({ [record] in
                try await self.stores.aliases.find(account: record.account, region: record.region, name: aliasName)
            })
        else {
            throw KMSError.internalFailure("the AWS managed key for \(aliasName) could not be created; retry")
        }
        return try await self.loadKey(winner.targetKeyID, named: aliasName)
    }

    /// AWS's policy for AWS managed keys: the account's principals may use the key only through
    /// the service it belongs to (kms:ViaService), and may read its metadata directly.
    static func awsManagedPolicy(partition: String, account: String, region: String, service: String) -> String {
        """
        {
          "Version" : "2012-10-17",
          "Id" : "auto-\(service)",
          "Statement" : [ {
            "Sid" : "Allow access through \(service) for all principals in the account that are authorized to use \
        \(service)",
            "Effect" : "Allow",
            "Principal" : { "AWS" : "*" },
            "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey" ],
            "Resource" : "*",
            "Condition" : { "StringEquals" : {
              "kms:CallerAccount" : "\(account)",
              "kms:ViaService" : "\(service).\(region).amazonaws.com"
            } }
          }, {
            "Sid" : "Allow direct access to key metadata to the account",
            "Effect" : "Allow",
            "Principal" : { "AWS" : "arn:\(partition):iam::\(account):root" },
            "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*" ],
            "Resource" : "*"
          } ]
        }
        """
    }

    /// AWS managed keys are the service's to manage: their policy, state and deletion are not
    /// the caller's to change.
    static func refuseIfAWSManaged(_ record: KeyRecord, _ operation: String) throws(KMSError) {
        if record.manager == .aws {
            throw KMSError(
                .unsupportedOperation, "\(record.arn) is an AWS managed key; \(operation) is not allowed on it.")
        }
    }
}
