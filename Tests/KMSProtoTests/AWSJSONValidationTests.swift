import Foundation
import KMSProto
import SwiftProtobuf
import Testing

/// Unknown enum names are AWS's ValidationException, worded as AWS words it and named by the
/// member's path; other shape errors stay SerializationException (`isValidation` false).
@Suite struct AWSJSONValidationTests {
    static func refusal<M: SwiftProtobuf.Message>(_ type: M.Type, _ object: [String: Any]) -> AWSJSON.DecodingError? {
        do {
            _ = try AWSJSON.decode(type, from: object)
            return nil
        } catch {
            return error as? AWSJSON.DecodingError
        }
    }

    @Test func anUnknownEnumNameIsAValidationErrorInTheModelsOrder() throws {
        let error = try #require(Self.refusal(KMSCreateKeyRequest.self, ["KeyUsage": "ENCRYPT"]))
        #expect(error.isValidation)
        #expect(
            error.description
                == "1 validation error detected: Value 'ENCRYPT' at 'keyUsage' failed to satisfy constraint: Member "
                + "must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT]")
    }

    @Test func severalAreCountedAndJoined() throws {
        let error = try #require(
            Self.refusal(KMSCreateKeyRequest.self, ["KeyUsage": "ENCRYPT", "KeySpec": "RSA_1024"]))
        #expect(error.isValidation)
        #expect(error.description.hasPrefix("2 validation errors detected: Value 'RSA_1024' at 'keySpec' "))
        #expect(error.description.contains("; Value 'ENCRYPT' at 'keyUsage' "))
    }

    @Test func nestedMembersAndListsAreNamedByTheirPath() throws {
        let nested = try #require(
            Self.refusal(
                KMSDecryptRequest.self,
                ["CiphertextBlob": "AAAA", "Recipient": ["KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_1"]]))
        #expect(nested.isValidation)
        #expect(
            nested.description
                == "1 validation error detected: Value 'RSAES_OAEP_SHA_1' at 'recipient.keyEncryptionAlgorithm' "
                + "failed to satisfy constraint: Member must satisfy enum value set: [RSAES_OAEP_SHA_256]")
        let list = try #require(
            Self.refusal(
                KMSCreateGrantRequest.self,
                ["KeyId": "k", "GranteePrincipal": "p", "Operations": ["Encrypt", "Nope"]]))
        #expect(list.isValidation)
        #expect(
            list.description.hasPrefix(
                "1 validation error detected: Value '[Encrypt, Nope]' at 'operations' failed to satisfy constraint: "
                    + "Member must satisfy constraint: [Member must satisfy enum value set: [Decrypt, Encrypt, "))
        #expect(list.description.hasSuffix(", DeriveSharedSecret]]"))
        let fine = try AWSJSON.decode(
            KMSCreateGrantRequest.self,
            from: ["KeyId": "k", "GranteePrincipal": "p", "Operations": ["Encrypt", "Sign"]])
        #expect(fine.operations == [.encrypt, .sign])
    }

    @Test func wrongJSONTypesAreNotValidationErrors() throws {
        for object: [String: Any] in [["KeySpec": 5], ["Tags": "x"], ["KeyUsage": ["SIGN_VERIFY"]]] {
            let error = try #require(Self.refusal(KMSCreateKeyRequest.self, object), "\(object)")
            #expect(!error.isValidation, "\(object)")
        }
        let operations = try #require(
            Self.refusal(KMSCreateGrantRequest.self, ["KeyId": "k", "GranteePrincipal": "p", "Operations": [1]]))
        #expect(!operations.isValidation)
    }

    @Test func keyMetadataCarriesOnlyTheListsItHas() throws {
        var metadata = KMSKeyMetadata()
        metadata.keyID = "k"
        metadata.signingAlgorithms = [.ecdsaSha256]
        var describe = KMSDescribeKeyResponse()
        describe.keyMetadata = metadata
        let key = try #require(try AWSJSON.object(describe)["KeyMetadata"] as? [String: Any])
        #expect(key["SigningAlgorithms"] as? [String] == ["ECDSA_SHA_256"])
        for absent in ["EncryptionAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms"] {
            #expect(key[absent] == nil, "\(absent)")
        }
        var publicKey = KMSGetPublicKeyResponse()
        publicKey.keyAgreementAlgorithms = [.ecdh]
        let object = try AWSJSON.object(publicKey)
        #expect(object["KeyAgreementAlgorithms"] as? [String] == ["ECDH"])
        #expect(object["EncryptionAlgorithms"] == nil && object["SigningAlgorithms"] == nil)
        // A List* operation's empty result list is sent, as AWS sends it.
        #expect(try AWSJSON.object(KMSListGrantsResponse())["Grants"] as? [Any] != nil)
    }
}
