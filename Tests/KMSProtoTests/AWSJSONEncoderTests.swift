import Foundation
import KMSProto
import SwiftProtobuf
import Testing

/// The direct encoder (`AWSJSON.data`) writes, byte for byte, what the reference path through
/// protobuf's JSON and a tree writes, for every kind of member; the fuzz targets hold the same on
/// random messages of every type.
@Suite struct AWSJSONEncoderTests {
    static func expectSameBytes(
        _ message: some SwiftProtobuf.Message, sourceLocation: SourceLocation = #_sourceLocation
    )
        throws
    {
        let direct = String(decoding: try AWSJSON.data(message), as: UTF8.self)
        let reference = String(decoding: try AWSJSON.referenceData(message), as: UTF8.self)
        #expect(direct == reference, sourceLocation: sourceLocation)
    }

    static func timestamp(_ seconds: Double) -> Google_Protobuf_Timestamp {
        Google_Protobuf_Timestamp(date: Date(timeIntervalSince1970: seconds))
    }

    @Test func aFullKeyMetadata() throws {
        var metadata = KMSKeyMetadata()
        metadata.keyID = "mrk-1234abcd12ab34cd56ef1234567890ab"
        metadata.awsAccountID = "111122223333"
        metadata.arn = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
        metadata.creationDate = Self.timestamp(1_700_000_000.5)
        metadata.deletionDate = Self.timestamp(1_700_000_123)
        metadata.validTo = Self.timestamp(1_700_000_000.123)
        metadata.enabled = false
        metadata.description_p = "quote \" backslash \\ newline \n tab \t bell \u{7} é 鍵 🔑 slash /"
        metadata.keyUsage = .encryptDecrypt
        metadata.keyState = .pendingDeletion
        metadata.origin = .awsKms
        metadata.keyManager = .customer
        metadata.customerMasterKeySpec = .symmetricDefault
        metadata.keySpec = .symmetricDefault
        metadata.encryptionAlgorithms = [.symmetricDefault, .rsaesOaepSha256]
        metadata.multiRegion = true
        var configuration = KMSMultiRegionConfiguration()
        configuration.multiRegionKeyType = .primary
        configuration.primaryKey.arn = "arn:aws:kms:us-east-1:111122223333:key/mrk-1"
        configuration.primaryKey.region = "us-east-1"
        metadata.multiRegionConfiguration = configuration
        metadata.pendingDeletionWindowInDays = 7
        var response = KMSDescribeKeyResponse()
        response.keyMetadata = metadata
        try Self.expectSameBytes(response)
    }

    @Test func enumsOutsideTheirNamesAndUnspecified() throws {
        var metadata = KMSKeyMetadata()
        metadata.keyID = "k"
        metadata.keyState = .unspecified
        metadata.keyUsage = KMSKeyUsage(rawValue: 99) ?? .unspecified
        metadata.signingAlgorithms = [.unspecified]
        var response = KMSCreateKeyResponse()
        response.keyMetadata = metadata
        try Self.expectSameBytes(response)
    }

    @Test func theHotResponses() throws {
        var decrypt = KMSDecryptResponse()
        decrypt.keyID = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        decrypt.plaintext = Data((0..<32).map { UInt8($0 * 7 % 256) })
        decrypt.encryptionAlgorithm = .symmetricDefault
        try Self.expectSameBytes(decrypt)

        var data = KMSGenerateDataKeyResponse()
        data.keyID = decrypt.keyID
        data.plaintext = Data(repeating: 0xFB, count: 32)
        data.ciphertextBlob = Data(repeating: 0xFF, count: 184)
        try Self.expectSameBytes(data)
    }

    @Test func listsEmptyAndFull() throws {
        try Self.expectSameBytes(KMSListKeysResponse())
        try Self.expectSameBytes(KMSListGrantsResponse())
        try Self.expectSameBytes(KMSGetPublicKeyResponse())

        var grant = KMSGrantListEntry()
        grant.grantID = "g"
        grant.creationDate = Self.timestamp(1_600_000_000.999)
        grant.operations = [.decrypt, .generateDataKey]
        grant.constraints.encryptionContextSubset = ["b": "2", "a": "1", "ü": "\u{0}"]
        grant.constraints.encryptionContextEquals = [:]
        var grants = KMSListGrantsResponse()
        grants.grants = [grant, KMSGrantListEntry()]
        grants.truncated = true
        grants.nextMarker = "m"
        try Self.expectSameBytes(grants)

        var keys = KMSListKeysResponse()
        keys.keys = (0..<3).map { index in
            var entry = KMSKeyListEntry()
            entry.keyID = "key-\(index)"
            return entry
        }
        try Self.expectSameBytes(keys)
    }

    @Test func numbersOfTheAdminReports() throws {
        var usage = AdminGetUsageResponse()
        var line = AdminUsageLine()
        line.keyArn = "arn"
        line.requests = 9_007_199_254_740_993
        line.failed = -1
        line.cost = 0.1
        usage.requests = [line]
        usage.requestCost = 1
        usage.keyCost = 1e20
        usage.totalCost = 123.456789
        usage.cacheSavings = 0.000_001
        try Self.expectSameBytes(usage)
    }

    @Test func everyRequestAndResponseEmpty() throws {
        // The empty lists AWS sends, message by message.
        try Self.expectSameBytes(KMSCreateKeyRequest())
        try Self.expectSameBytes(KMSDecryptRequest())
        try Self.expectSameBytes(KMSCreateGrantRequest())
        try Self.expectSameBytes(KMSKeyMetadata())
        try Self.expectSameBytes(KMSMultiRegionConfiguration())
    }
}
