import Foundation
import KMSDomain
import Testing

/// Multi-Region ids and the regional row ids of their related keys (KeyID+MultiRegion.swift).
@Suite struct MultiRegionKeyIDTests {
    /// AWS's commercial, China and GovCloud regions of 2025.
    static let awsRegions = [
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2", "ap-south-1",
        "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
        "ap-southeast-6", "ap-southeast-7", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ca-central-1",
        "ca-west-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1",
        "eu-south-2", "eu-north-1", "il-central-1", "mx-central-1", "me-south-1", "me-central-1", "sa-east-1",
        "cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1",
    ]

    @Test func aPublicIdAndItsRegionalRowIdsWriteAndParseAsTheOneMrkId() throws {
        let id = KeyID.randomMultiRegion()
        #expect(id.isMultiRegion && id.publicID == id)
        let text = id.description
        #expect(text.wholeMatch(of: /mrk-[0-9a-f]{32}/) != nil, "\(text)")
        #expect(KeyID(text) == id && KeyID(text.uppercased().replacingOccurrences(of: "MRK-", with: "mrk-")) == id)
        let east = id.inRegion("us-east-1")
        let west = id.inRegion("eu-west-1")
        #expect(east != west && east != id && west != id)
        #expect(east.description == text && west.description == text)
        #expect(east.publicID == id && west.inRegion("us-east-1") == east)
        // Never a single-Region id, and a single-Region id is its own row id everywhere.
        let single = KeyID.random()
        #expect(!single.isMultiRegion && single.inRegion("eu-west-1") == single && single.publicID == single)
        // A row id's uuid text is no spelling of the key, nor an mrk id with another check value.
        #expect(KeyID(east.uuid.uuidString) == nil)
        var bytes = id.bytes
        bytes[15] ^= 1
        #expect(KeyID("mrk-" + Hex.encode(bytes)) == nil)
        #expect(KeyID("mrk-" + String(repeating: "0", count: 32)) == nil)
    }

    @Test func awsRegionsNeverShareACode() {
        #expect(KeyID.regionCodeClash(Self.awsRegions) == nil)
        #expect(KeyID.regionCodeClash(["us-east-1", "us-east-1"]) == nil)
    }

    @Test func relatedARNsAndTheMaterialBinding() {
        let id = KeyID.randomMultiRegion().inRegion("us-east-1")
        let record = KeyRecord(
            keyID: id, arn: "arn:aws:kms:us-east-1:111122223333:key/\(id)", account: "111122223333",
            region: "us-east-1", description: "", state: .enabled, usage: .encryptDecrypt, spec: .symmetricDefault,
            origin: .awsKMS, manager: .customer, creationDate: Date(), deletionDate: nil, pendingWindowInDays: nil,
            policy: "{}", currentMaterialID: nil, version: 1)
        #expect(record.relatedARN(in: "eu-west-1") == "arn:aws:kms:eu-west-1:111122223333:key/\(id)")
        #expect(record.materialARN == "arn:aws:kms::111122223333:key/\(id)")
        let single = KeyID.random()
        #expect(
            KeyRecord.materialARN(keyARN: "arn:aws:kms:us-east-1:1:key/\(single)", keyID: single).contains("us-east-1"))
    }
}
