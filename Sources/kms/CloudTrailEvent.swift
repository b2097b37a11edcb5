import Foundation
import KMSProto

/// An audit record as a CloudTrail-shaped event: what `kms audit` prints, one a line. Encoded
/// by JSONEncoder: JSONSerialization spent about 80% of a long listing's time on Linux, most of
/// it sorting keys with locale-aware comparisons.
struct CloudTrailEvent: Encodable {
    struct Identity: Encodable {
        var arn: String
        var accessKeyId: String?
    }

    struct Parameters: Encodable {
        var keyId: String?
        var encryptionContext: [String: String]?
    }

    struct Resource: Encodable {
        var arn: String
        var type = "AWS::KMS::Key"

        enum CodingKeys: String, CodingKey {
            case arn = "ARN"
            case type
        }
    }

    struct KeyMetadata: Encodable {
        var arn: String
        var keyId: String
    }

    struct Response: Encodable {
        var keyMetadata: KeyMetadata
    }

    struct Additional: Encodable {
        var grantId: String
    }

    var eventID: String
    var eventTime: String
    var eventSource = "kms"
    var eventName: String
    var requestID: String
    var userIdentity: Identity
    var requestParameters: Parameters
    var responseElements: Response?
    var resources: [Resource]
    var transport: String
    var hash: String
    var sourceIPAddress: String?
    var errorCode: String?
    var additionalEventData: Additional?

    init(_ record: AdminAuditRecord, format: ISO8601DateFormatter) {
        var parameters = Parameters(
            encryptionContext: record.encryptionContext.isEmpty ? nil : record.encryptionContext)
        if record.operation == "CreateKey" {
            // As CloudTrail has it: the new key is in the response, not the request.
            if let key = record.keyArns.first {
                self.responseElements = Response(
                    keyMetadata: KeyMetadata(arn: key, keyId: String(key.split(separator: "/").last ?? "")))
            }
        } else if let key = record.keyArns.first {
            parameters.keyId = record.alias.isEmpty ? key : record.alias
        }
        self.eventID = "\(record.chainID)/\(record.sequence)"
        self.eventTime = format.string(from: record.eventTime.date)
        self.eventName = record.operation
        self.requestID = record.requestID
        self.userIdentity = Identity(
            arn: record.principalArn, accessKeyId: record.accessKeyID.isEmpty ? nil : record.accessKeyID)
        self.requestParameters = parameters
        self.resources = record.keyArns.map { Resource(arn: $0) }
        self.transport = record.transport
        self.hash = record.hash
        self.sourceIPAddress = record.sourceIp.isEmpty ? nil : record.sourceIp
        self.errorCode = record.errorCode.isEmpty ? nil : record.errorCode
        self.additionalEventData = record.grantID.isEmpty ? nil : Additional(grantId: record.grantID)
    }
}
