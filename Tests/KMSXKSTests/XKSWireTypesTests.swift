import Foundation
import KMSXKS
import Testing

/// The wire types against the request and response examples of the XKS proxy API
/// specification (the JSON below is those examples' content, laid out afresh).
@Suite struct XKSWireTypesTests {
    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    /// Encoding then decoding gives the value back.
    static func roundTrip<T: Codable & Equatable>(_ value: T) throws {
        #expect(try JSONDecoder().decode(T.self, from: JSONEncoder().encode(value)) == value)
    }

    @Test func getKeyMetadataExamples() throws {
        let request = try Self.decode(
            XKSGetKeyMetadataRequest.self,
            #"{"requestMetadata": {"awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice","#
                + #""kmsOperation": "CreateKey", "kmsRequestId": "4112f4d6-db54-4af4-ae30-c55a22a8dfae"}}"#)
        #expect(request.requestMetadata.awsPrincipalArn == "arn:aws:iam::123456789012:user/Alice")
        #expect(request.requestMetadata.kmsOperation == "CreateKey")
        try request.requestMetadata.validate(for: .getKeyMetadata)
        let response = try Self.decode(
            XKSGetKeyMetadataResponse.self,
            #"{"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"], "keyStatus": "ENABLED"}"#)
        #expect(response == XKSGetKeyMetadataResponse(keyStatus: "ENABLED"))
        try response.validate()
        try Self.roundTrip(request)
        try Self.roundTrip(response)
    }

    @Test func encryptExamplesAndTheirIntegrityValue() throws {
        let request = try Self.decode(
            XKSEncryptRequest.self,
            """
            {"requestMetadata": {"awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
              "kmsKeyArn": "arn:aws:kms:us-east-2:123456789012:/key/1234abcd-12ab-34cd-56ef-1234567890ab",
              "kmsOperation": "Encrypt", "kmsRequestId": "4112f4d6-db54-4af4-ae30-c55a22a8dfae",
              "kmsViaService": "ebs"},
             "additionalAuthenticatedData": "cHJvamVjdD1uaWxlLGRlcGFydG1lbnQ9bWFya2V0aW5n",
             "plaintext": "SGVsbG8gV29ybGQh", "encryptionAlgorithm": "AES_GCM",
             "ciphertextDataIntegrityValueAlgorithm": "SHA_256"}
            """)
        #expect(request.plaintext == Data("Hello World!".utf8))
        #expect(request.additionalAuthenticatedData == Data("project=nile,department=marketing".utf8))
        #expect(request.requestMetadata.kmsViaService == "ebs")
        try request.validate()
        let response = try Self.decode(
            XKSEncryptResponse.self,
            """
            {"authenticationTag": "vBxN2ncH1oEkR8WVXpmyYQ==", "ciphertext": "ghxkK1txeDNn3q8Y",
             "ciphertextDataIntegrityValue": "qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=",
             "ciphertextMetadata": "a2V5X3ZlcnNpb249MQ==", "initializationVector": "HMrlRw85cAJUd5Ax"}
            """)
        #expect(response.ciphertextMetadata == Data("key_version=1".utf8))
        #expect(response.initializationVector.count == 12)
        // The spec's appendix C: SHA-256 over AAD, metadata, IV, ciphertext and tag.
        #expect(
            XKSIntegrity.value(additionalAuthenticatedData: request.additionalAuthenticatedData, response: response)
                == response.ciphertextDataIntegrityValue)
        try response.validate(for: request)
        try Self.roundTrip(request)
        try Self.roundTrip(response)
    }

    @Test func decryptExamples() throws {
        let request = try Self.decode(
            XKSDecryptRequest.self,
            """
            {"requestMetadata": {"awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
              "kmsKeyArn": "arn:aws:kms:us-east-2:123456789012:/key/1234abcd-12ab-34cd-56ef-1234567890ab",
              "kmsOperation": "Decrypt", "kmsRequestId": "5112f4d6-db54-4af4-ae30-c55a22a8dfae",
              "kmsViaService": "ebs"},
             "additionalAuthenticatedData": "cHJvamVjdD1uaWxlLGRlcGFydG1lbnQ9bWFya2V0aW5n",
             "encryptionAlgorithm": "AES_GCM", "ciphertext": "ghxkK1txeDNn3q8Y",
             "ciphertextMetadata": "a2V5X3ZlcnNpb249MQ==", "initializationVector": "HMrlRw85cAJUd5Ax",
             "authenticationTag": "vBxN2ncH1oEkR8WVXpmyYQ=="}
            """)
        try request.validate()
        #expect(request.authenticationTag.count == 16)
        let response = try Self.decode(XKSDecryptResponse.self, #"{"plaintext": "SGVsbG8gV29ybGQh"}"#)
        #expect(response.plaintext == Data("Hello World!".utf8))
        try Self.roundTrip(request)
        try Self.roundTrip(response)
    }

    @Test func healthExamples() throws {
        let request = try Self.decode(
            XKSGetHealthStatusRequest.self,
            #"{"requestMetadata": {"kmsRequestId": "4112f4d6-db54-4af4-ae30-c55a22a8dfae","#
                + #""kmsOperation": "CreateCustomKeyStore"}}"#)
        try request.requestMetadata.validate(for: .getHealthStatus)
        let response = try Self.decode(
            XKSGetHealthStatusResponse.self,
            """
            {"xksProxyFleetSize": 2, "xksProxyVendor": "Acme Corp", "xksProxyModel": "Acme XKS Proxy 1.0",
             "ekmVendor": "Thales Group", "ekmFleetDetails": [
               {"id": "hsm-id-1", "model": "Luna 5.0", "healthStatus": "DEGRADED"},
               {"id": "hsm-id-2", "model": "Luna 5.1", "healthStatus": "ACTIVE"}]}
            """)
        #expect(response.ekmFleetDetails.map(\.healthStatus) == ["DEGRADED", "ACTIVE"])
        try response.validate()
        try Self.roundTrip(response)
    }

    @Test func errorBodyAndStatuses() throws {
        let body = try Self.decode(
            XKSErrorBody.self,
            #"{"errorName": "InvalidCiphertextException", "errorMessage": "The request was rejected."}"#)
        #expect(XKSErrorName(rawValue: body.errorName) == .invalidCiphertext)
        let statuses = Dictionary(uniqueKeysWithValues: XKSErrorName.allCases.map { ($0.rawValue, $0.httpStatus) })
        #expect(
            statuses == [
                "ValidationException": 400, "InvalidStateException": 400, "InvalidCiphertextException": 400,
                "InvalidKeyUsageException": 400, "AuthenticationFailedException": 401, "AccessDeniedException": 403,
                "KeyNotFoundException": 404, "InvalidUriPathException": 404, "ThrottlingException": 429,
                "UnsupportedOperationException": 501, "DependencyTimeoutException": 503, "InternalException": 500,
            ])
        // Messages are printable ASCII under 512 characters.
        let error = XKSError(.validation, "bad\u{7}\u{e9}" + String(repeating: "x", count: 600))
        #expect(error.message.count == 511)
        #expect(error.message.hasPrefix("bad??"))
    }

    @Test func sizesAndFormats() throws {
        let metadata = XKSRequestMetadata(
            awsPrincipalArn: "arn:aws:iam::123456789012:user/Alice", kmsKeyArn: "arn:k", kmsOperation: "Encrypt",
            kmsRequestId: "r")
        var encrypt = XKSEncryptRequest(requestMetadata: metadata, plaintext: Data(count: 4300))
        try encrypt.validate()
        encrypt.plaintext = Data(count: 4301)
        #expect(throws: XKSError(.unsupportedOperation, "plaintext is longer than the 4300 bytes this proxy supports."))
        { try encrypt.validate() }
        encrypt.plaintext = Data(count: 1)
        encrypt.encryptionAlgorithm = "AES_CBC"
        #expect { try encrypt.validate() } throws: { ($0 as? XKSError)?.name == .validation }
        var decrypt = XKSDecryptRequest(
            requestMetadata: metadata, ciphertext: Data(count: 4), ciphertextMetadata: Data(count: 21),
            initializationVector: Data(count: 12), authenticationTag: Data(count: 16))
        #expect { try decrypt.validate() } throws: { ($0 as? XKSError)?.name == .validation }
        decrypt.ciphertextMetadata = nil
        decrypt.initializationVector = Data(count: 13)
        #expect { try decrypt.validate() } throws: { ($0 as? XKSError)?.name == .validation }
        var noPrincipal = metadata
        noPrincipal.awsPrincipalArn = nil
        #expect { try noPrincipal.validate(for: .encrypt) } throws: { ($0 as? XKSError)?.name == .validation }
        try noPrincipal.validate(for: .getHealthStatus)

        #expect(XKSLimits.isValidKeyID("a-b.c_D9"))
        #expect(!XKSLimits.isValidKeyID("alias/x"))
        #expect(!XKSLimits.isValidKeyID(String(repeating: "k", count: 129)))
        #expect(XKSLimits.isValidURIPath("/kms/xks/v1"))
        #expect(XKSLimits.isValidURIPath("/tenant-a/kms/xks/v1"))
        #expect(!XKSLimits.isValidURIPath("/tenant.a/kms/xks/v1"))
        #expect(XKSLimits.isValidAccessKeyID("MUBSXM6K3KMXHN6RRCXI"))
        #expect(!XKSLimits.isValidAccessKeyID("AKIA0189"))
        #expect(XKSOperation.encrypt.path(uriPath: "/p/kms/xks/v1", keyID: "k1") == "/p/kms/xks/v1/keys/k1/encrypt")
        #expect(XKSOperation.getHealthStatus.path(uriPath: "/kms/xks/v1", keyID: "") == "/kms/xks/v1/health")
    }

    /// The lengths keep Encrypt(AAD: none, metadata: M) from decrypting as Decrypt(AAD: M, metadata: none).
    @Test func gcmAADCarriesLengths() {
        let metadata = Data("key_version=1".utf8)
        let a = XKSIntegrity.gcmAAD(additionalAuthenticatedData: nil, ciphertextMetadata: metadata)
        let b = XKSIntegrity.gcmAAD(additionalAuthenticatedData: metadata, ciphertextMetadata: nil)
        #expect(a != b)
        #expect(a == Data([0, 0, 13]) + metadata)
        #expect(b == Data([0, 13]) + metadata + Data([0]))
    }

    /// Bad base64 does not decode (the proxy answers ValidationException for it).
    @Test func badBase64IsRefused() {
        #expect(throws: (any Error).self) {
            try Self.decode(
                XKSDecryptResponse.self, #"{"plaintext": "not base64!"}"#)
        }
    }
}
