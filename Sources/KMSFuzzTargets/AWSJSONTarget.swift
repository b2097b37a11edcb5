import Foundation
import KMSProto

/// The AWS JSON 1.1 request bodies of the public service: the translation the HTTP endpoint
/// runs on every authenticated body (`AWSJSONOperation.requestFromJSON`), then the typed decode.
///
/// Input: one byte that chooses the operation, then the body. The endpoint's translation either
/// gives protobuf bytes that decode as the operation's request or throws AWSJSON.DecodingError
/// (answered as SerializationException); any other error or a crash is a finding. What decodes
/// survives an AWS JSON round trip (`MessageChecks.awsJSONRoundTrip`).
enum AWSJSONTarget {
    static let target = FuzzTarget(name: "aws-json", run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let messages = RPCMessages.kms[Int(input.byte()) % RPCMessages.kms.count]
        let body = Data(input.rest())
        guard let operation = KMSMethod.awsJSON[messages.method] else {
            require(false, "\(messages.method) has no AWS JSON operation")
            return
        }
        do {
            let bytes = try operation.requestFromJSON(body)
            require(
                messages.request.binaryRoundTrip(bytes), "\(messages.method): the translated request does not decode")
        } catch is AWSJSON.DecodingError {
        } catch {
            require(
                false,
                "\(messages.method): the body was refused with \(type(of: error)), not AWSJSON.DecodingError: \(error)")
        }
        messages.request.awsJSONRoundTrip(body)
    }

    /// Bodies as botocore sends them.
    static let exampleBodies: [(String, String)] = [
        (
            "CreateKey",
            #"{"Description": "orders", "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "Tags": [{"TagKey": "#
                + #""team", "TagValue": "payments"}], "Policy": "{\"Version\": \"2012-10-17\", \"Statement\": "#
                + #"[{\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"111122223333\"}, \"Action\": \"kms:*\", "#
                + #"\"Resource\": \"*\"}]}"}"#
        ),
        (
            "Encrypt",
            #"{"KeyId": "alias/app", "Plaintext": "YXR0YWNrIGF0IGRhd24=", "EncryptionContext": {"tenant": "acme"}, "#
                + #""EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}"#
        ),
        (
            "Decrypt",
            #"{"CiphertextBlob": "AQIDBAUGBwgJCgsMDQ4PEA==", "EncryptionContext": {"tenant": "acme"}, "#
                + #""GrantTokens": ["t1", "t2"]}"#
        ),
        (
            "GenerateDataKey",
            #"{"KeyId": "alias/app", "KeySpec": "AES_256", "EncryptionContext": {"a": "b"}, "Unknown": 1}"#
        ),
        ("GenerateDataKeyPair", #"{"KeyId": "alias/app", "KeyPairSpec": "ECC_NIST_P384"}"#),
        (
            "ReEncrypt",
            #"{"CiphertextBlob": "AQID", "DestinationKeyId": "#
                + #""arn:aws:kms:us-east-1:111122223333:key/0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11", "#
                + #""SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "#
                + #""RSAES_OAEP_SHA_256"}"#
        ),
        ("ScheduleKeyDeletion", #"{"KeyId": "0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11", "PendingWindowInDays": 7}"#),
        (
            "Sign",
            #"{"KeyId": "alias/signer", "Message": "CQ==", "MessageType": "DIGEST", "SigningAlgorithm": "#
                + #""ECDSA_SHA_256"}"#
        ),
        (
            "Verify",
            #"{"KeyId": "alias/signer", "Message": "aGVsbG8=", "Signature": "MEUCIQ==", "SigningAlgorithm": "#
                + #""RSASSA_PSS_SHA_256", "DryRun": true}"#
        ),
        ("GenerateMac", #"{"KeyId": "alias/mac", "Message": "aGVsbG8=", "MacAlgorithm": "HMAC_SHA_384"}"#),
        (
            "CreateGrant",
            #"{"KeyId": "alias/app", "GranteePrincipal": "arn:aws:iam::111122223333:role/app", "Operations": "#
                + #"["Decrypt", "CreateGrant"], "Constraints": {"EncryptionContextSubset": {"tenant": "acme"}}, "#
                + #""Name": "g1"}"#
        ),
        (
            "ImportKeyMaterial",
            #"{"KeyId": "0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11", "ImportToken": "AQI=", "EncryptedKeyMaterial": "#
                + #""Aw==", "ValidTo": 1801353600.5, "ExpirationModel": "KEY_MATERIAL_EXPIRES"}"#
        ),
        (
            "GetParametersForImport",
            #"{"KeyId": "0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11", "WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256", "#
                + #""WrappingKeySpec": "RSA_4096"}"#
        ),
        ("ListAliases", #"{"KeyId": "alias/app", "Limit": 50, "Marker": "abc"}"#),
        (
            "TagResource",
            #"{"KeyId": "alias/app", "Tags": [{"TagKey": "a", "TagValue": ""}, {"TagKey": "b", "TagValue": "c"}]}"#
        ),
        (
            "PutKeyPolicy",
            #"{"KeyId": "alias/app", "PolicyName": "default", "Policy": "{}", "BypassPolicyLockoutSafetyCheck": false}"#
        ),
        ("ListKeys", ""),
        (
            "DeriveSharedSecret",
            #"{"KeyId": "alias/ecdh", "KeyAgreementAlgorithm": "ECDH", "PublicKey": "#
                + #""MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"}"#
        ),
    ]

    static func seeds() -> [[UInt8]] {
        exampleBodies.map { name, body in
            let index = RPCMessages.kms.firstIndex { $0.method == name }!
            return [UInt8(index)] + Array(body.utf8)
        }
    }
}
