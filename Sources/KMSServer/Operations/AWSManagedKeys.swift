import Foundation
import KMSDomain
import KMSProto
import KMSStore

extension KMSService {
    /// `alias/aws/<service>`: letters, digits and dashes after the reserved prefix.
    static func awsManagedService(_ aliasName: String) -> String? {
        guard aliasName.hasPrefix(AliasName.reservedPrefix) else { return nil }
        let service = aliasName.dropFirst(AliasName.reservedPrefix.count)
        guard (1...64).contains(service.count),
              service.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
        else { return nil }
        return String(service)
    }

    /// Creates the account's AWS-managed key for a service on first use of its alias, as AWS
    /// does. Two kmsd racing both create one; the alias insert picks the winner and the loser's
    /// key is rolled back with it.
    func createAWSManagedKey(account: String, region: String, aliasName: String, service: String) async throws(KMSError) -> String {
        let keyID = UUID().uuidString.lowercased()
        let arn = self.scope.keyARN(account: account, region: region, keyID: keyID)
        let material = try await self.generateMaterial(keyID: keyID, keyARN: arn)
        let record = KeyRecord(
            keyID: keyID, arn: arn, account: account, region: region,
            description: "Default key that protects my \(service) data when no other key is defined",
            state: .enabled, usage: .encryptDecrypt, spec: .symmetricDefault, origin: .awsKMS, manager: .aws,
            creationDate: Date(timeIntervalSince1970: self.now().timeIntervalSince1970.rounded(.down)),
            deletionDate: nil, pendingWindowInDays: nil,
            policy: Self.awsManagedPolicy(partition: self.scope.partition, account: account, region: region, service: service),
            currentMaterialID: material.materialID, version: 1,
            // AWS managed keys rotate every year, and nobody can change that.
            rotationPeriodInDays: 365, nextRotationDate: self.now().addingTimeInterval(365 * 86400)
        )
        let created = try await self.store { try await self.keys.insert(record, material: material, alias: aliasName) }
        if created {
            self.logger.notice("created AWS managed key", metadata: ["alias": "\(aliasName)", "key_arn": "\(arn)"])
            return keyID
        }
        guard let winner = try await self.store({ try await self.aliases.find(account: account, region: region, name: aliasName) }) else {
            throw KMSError.internalFailure("the AWS managed key for \(aliasName) could not be created; retry")
        }
        return winner.targetKeyID
    }

    /// AWS's policy for AWS managed keys: the account's principals may use the key only through
    /// the service it belongs to (kms:ViaService), and may read its metadata directly.
    static func awsManagedPolicy(partition: String, account: String, region: String, service: String) -> String {
        """
        {
          "Version" : "2012-10-17",
          "Id" : "auto-\(service)",
          "Statement" : [ {
            "Sid" : "Allow access through \(service) for all principals in the account that are authorized to use \(service)",
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
            throw KMSError(.unsupportedOperation, "\(record.arn) is an AWS managed key; \(operation) is not allowed on it.")
        }
    }
}
