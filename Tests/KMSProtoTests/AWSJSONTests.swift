import Foundation
import KMSProto
import SwiftProtobuf
import Testing

@Suite struct AWSJSONTests {
    @Test func encodesAWSNamesEnumsTimestampsAndBlobs() throws {
        var metadata = KMSKeyMetadata()
        metadata.keyID = "k"
        metadata.awsAccountID = "111122223333"
        metadata.keyState = .pendingDeletion
        metadata.keySpec = .symmetricDefault
        metadata.encryptionAlgorithms = [.symmetricDefault]
        metadata.creationDate = Google_Protobuf_Timestamp(date: Date(timeIntervalSince1970: 1_700_000_000.5))
        var response = KMSDescribeKeyResponse()
        response.keyMetadata = metadata
        let object = try AWSJSON.object(response)
        let key = try #require(object["KeyMetadata"] as? [String: Any])
        #expect(key["AWSAccountId"] as? String == "111122223333")
        #expect(key["KeyState"] as? String == "PendingDeletion")
        #expect(key["KeySpec"] as? String == "SYMMETRIC_DEFAULT")
        #expect(key["EncryptionAlgorithms"] as? [String] == ["SYMMETRIC_DEFAULT"])
        #expect((key["CreationDate"] as? NSNumber)?.doubleValue == 1_700_000_000.5)

        var encrypt = KMSEncryptResponse()
        encrypt.ciphertextBlob = Data([0, 1, 2, 250])
        #expect(try AWSJSON.object(encrypt)["CiphertextBlob"] as? String == "AAEC+g==")
    }

    @Test func decodesAWSRequests() throws {
        let request = try AWSJSON.decode(
            KMSGenerateDataKeyRequest.self,
            from: Data(
                """
                {"KeyId": "alias/app", "KeySpec": "AES_256", "EncryptionContext": {"a": "b"}, "Unknown": 1}
                """.utf8))
        #expect(request.keyID == "alias/app")
        #expect(request.keySpec == .aes256)
        #expect(request.encryptionContext == ["a": "b"])
        #expect(!request.hasNumberOfBytes)

        let schedule = try AWSJSON.decode(
            KMSScheduleKeyDeletionRequest.self, from: ["KeyId": "k", "PendingWindowInDays": 7])
        #expect(schedule.pendingWindowInDays == 7)
    }

    /// ImportKeyMaterial's ValidTo arrives as epoch seconds (boto3, and the kms CLI's --valid-to).
    @Test func decodesTimestampsAndBlobsInRequests() throws {
        let request = try AWSJSON.decode(
            KMSImportKeyMaterialRequest.self,
            from: [
                "KeyId": "k", "ImportToken": Data([1, 2]).base64EncodedString(),
                "EncryptedKeyMaterial": Data([3]).base64EncodedString(),
                "ValidTo": NSNumber(value: 1_801_353_600.5), "ExpirationModel": "KEY_MATERIAL_EXPIRES",
            ])
        #expect(request.validTo.seconds == 1_801_353_600 && request.validTo.nanos == 500_000_000)
        #expect(request.importToken == Data([1, 2]) && request.encryptedKeyMaterial == Data([3]))
        #expect(request.expirationModel == .keyMaterialExpires)

        let sign = try AWSJSON.decode(
            KMSSignRequest.self,
            from: [
                "KeyId": "k", "Message": Data([9]).base64EncodedString(), "MessageType": "DIGEST",
                "SigningAlgorithm": "ECDSA_SHA_256",
            ])
        #expect(sign.message == Data([9]) && sign.messageType == .digest && sign.signingAlgorithm == .ecdsaSha256)
    }

    @Test func refusesWhatIsNotTheShape() {
        #expect(throws: AWSJSON.DecodingError.self) {
            try AWSJSON.decode(KMSCreateKeyRequest.self, from: ["KeySpec": "NOT_A_SPEC"])
        }
        #expect(throws: AWSJSON.DecodingError.self) {
            try AWSJSON.decode(KMSEncryptRequest.self, from: ["Plaintext": 12])
        }
        #expect(throws: AWSJSON.DecodingError.self) {
            try AWSJSON.decode(KMSEncryptRequest.self, from: Data("[1,2]".utf8))
        }
        // An enum given as a number (the fuzzer's find): protobuf would take 0 as "unspecified",
        // which no AWS name stands for, and the request would not survive its own encoding.
        for number in [0, 1, 42] {
            #expect(throws: AWSJSON.DecodingError.self) {
                try AWSJSON.decode(KMSGenerateDataKeyRequest.self, from: ["KeyId": "alias/a", "KeySpec": number])
            }
        }
        #expect(throws: AWSJSON.DecodingError.self) {
            try AWSJSON.decode(KMSEncryptRequest.self, from: ["KeyId": "k", "EncryptionAlgorithm": true])
        }
        // null stays "not given", as AWS takes it.
        let absent = try? AWSJSON.decode(KMSGenerateDataKeyRequest.self, from: ["KeyId": "k", "KeySpec": NSNull()])
        #expect(absent?.hasKeySpec == false)
    }

    @Test func enumNamesRoundTrip() {
        for value in KMSKeySpec.allCases where value != .unspecified {
            #expect(KMSKeySpec(awsName: value.awsName) == value)
        }
        #expect(KMSKeyState.pendingDeletion.awsName == "PendingDeletion")
        #expect(KMSKeySpec(awsName: "SYMMETRIC_DEFAULT") == .symmetricDefault)
        #expect(KMSKeySpec(awsName: "nope") == nil)
    }
}
