import Foundation
import KMSProto
import SwiftProtobuf
import Testing

/// `AWSJSON.decodeDirectly`: the bodies SDKs send decode in one pass to what the long way gives,
/// and everything else is left to the long way.
@Suite struct AWSJSONDirectDecodingTests {
    /// The direct decoding of `body`, held equal to the long way's.
    private func direct<M: SwiftProtobuf.Message>(_ type: M.Type, _ body: String) throws -> M? {
        let data = Data(body.utf8)
        guard let direct = AWSJSON.decodeDirectly(type, from: data) else { return nil }
        let long = try AWSJSON.decode(type, from: data)
        #expect(direct.isEqualTo(message: long), "\(body)")
        return direct
    }

    @Test func sdkBodiesDecodeDirectlyToWhatTheLongWayGives() throws {
        let decrypt = try #require(
            try self.direct(
                KMSDecryptRequest.self,
                #"{"CiphertextBlob": "AQIDBAUGBwgJCgsMDQ4PEA==", "EncryptionContext": {"tenant": "acme", "b": "2"}, "#
                    + #""GrantTokens": ["t1", "t2"], "KeyId": "alias/app", "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}"#
            ))
        #expect(decrypt.ciphertextBlob == Data((1...16).map { UInt8($0) }))
        #expect(decrypt.encryptionContext == ["tenant": "acme", "b": "2"])
        #expect(decrypt.grantTokens == ["t1", "t2"])
        #expect(decrypt.encryptionAlgorithm == .symmetricDefault)

        let dataKey = try #require(
            try self.direct(
                KMSGenerateDataKeyRequest.self,
                "{\n  \"KeyId\":\"k\",\t\"KeySpec\" : \"AES_128\", \"Unknown\": [1, {\"x\": [true, false, null]}], "
                    + "\"DryRun\": false}\r\n"))
        #expect(dataKey.keySpec == .aes128)
        #expect(dataKey.keyID == "k")

        let bytes = try #require(
            try self.direct(KMSGenerateDataKeyRequest.self, #"{"KeyId": "k", "NumberOfBytes": 64}"#))
        #expect(bytes.numberOfBytes == 64)
        #expect(try self.direct(KMSEncryptRequest.self, "{}") == KMSEncryptRequest())
        // Lists of enum names, as the AWS JSON encoder writes them (empty ones included).
        #expect(
            try self.direct(
                KMSDecryptRequest.self, #"{"CiphertextBlob":"AQID//4=","DryRunModifiers":[],"GrantTokens":[]}"#)
                != nil)
        let grant = try #require(
            try self.direct(
                KMSCreateGrantRequest.self,
                #"{"KeyId": "k", "GranteePrincipal": "p", "Operations": ["Decrypt", "Encrypt" ]}"#))
        #expect(grant.operations == [.decrypt, .encrypt])
    }

    @Test func aMapKeyNamedTwiceIsLeftToTheLongWay() throws {
        // Protobuf's decoder refuses it, Foundation's keeps the last: the long way's answer stands.
        let body = Data(#"{"EncryptionContext": {"k": "1", "k": "2"}}"#.utf8)
        #expect(AWSJSON.decodeDirectly(KMSDecryptRequest.self, from: body) == nil)
        let operation = try #require(KMSMethod.awsJSON["Decrypt"])
        #expect((try operation.requestMessageFromJSON(body) as? KMSDecryptRequest)?.encryptionContext == ["k": "2"])
    }

    @Test func bodiesTheLongWayTreatsWithMoreCareAreLeftToIt() {
        let bodies: [String] = [
            #"{"KeyId": "k\u0041"}"#,  // an escape
            #"{"KeyId": "kéy"}"#,  // non-ASCII text
            #"{"KeyId": "a", "KeyId": "b"}"#,  // a member twice
            #"{"KeyId": "k", "KeySpec": "AES_512"}"#,  // not one of the enum's names
            #"{"KeyId": "k", "KeySpec": 1}"#,
            #"{"KeyId": "k", "KeySpec": null}"#,
            #"{"KeyId": "k", "NumberOfBytes": 64.0}"#,
            #"{"KeyId": "k", "NumberOfBytes": -1}"#,
            #"{"KeyId": "k", "NumberOfBytes": 064}"#,
            #"{"KeyId": "k", "NumberOfBytes": 1e2}"#,
            #"{"KeyId": "k"} x"#,
            #"{"KeyId": "k",}"#,
            #"["KeyId"]"#,
            #"{"KeyId" "k"}"#,
            "{\"KeyId\": \"k\u{01}\"}",
        ]
        for body in bodies {
            #expect(AWSJSON.decodeDirectly(KMSGenerateDataKeyRequest.self, from: Data(body.utf8)) == nil, "\(body)")
        }
        // A list with a name outside the enum, or not a name, and a message member: the long way.
        for operations in [#"["Decrypt", "Fly"]"#, #"["Decrypt", null]"#, #"["Decrypt",]"#, "[1]"] {
            let body = Data(#"{"Operations": \#(operations)}"#.utf8)
            #expect(AWSJSON.decodeDirectly(KMSCreateGrantRequest.self, from: body) == nil, "\(operations)")
        }
        #expect(
            AWSJSON.decodeDirectly(
                KMSDecryptRequest.self,
                from: Data(#"{"Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}"#.utf8))
                == nil)
    }

    @Test func theOperationAnswersEveryBodyAsTheLongWayDoes() throws {
        let operation = try #require(KMSMethod.awsJSON["GenerateDataKey"])
        let valid = #"{"KeyId": "k\u0041", "KeySpec": "AES_256"}"#
        let message = try operation.requestMessageFromJSON(Data(valid.utf8))
        #expect((message as? KMSGenerateDataKeyRequest)?.keyID == "kA")
        #expect((message as? KMSGenerateDataKeyRequest)?.keySpec == .aes256)
        do {
            _ = try operation.requestMessageFromJSON(Data(#"{"KeyId": "k", "KeySpec": "AES_512"}"#.utf8))
            Issue.record("an unknown enum name was taken")
        } catch let error as AWSJSON.DecodingError {
            #expect(error.isValidation)
            #expect(error.description.contains("Member must satisfy enum value set"))
        }
    }
}
