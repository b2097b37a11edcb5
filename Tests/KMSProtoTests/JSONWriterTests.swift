import Foundation
import SwiftProtobuf
import Testing

@testable import KMSProto

/// AWSJSON's own writer says what JSONSerialization said of the same trees.
@Suite struct JSONWriterTests {
    static func same(_ tree: [String: Any]) throws {
        let ours = try JSONWriter.data(tree)
        let parsed = try #require(try JSONSerialization.jsonObject(with: ours) as? NSDictionary)
        #expect(parsed == tree as NSDictionary, "\(String(decoding: ours, as: UTF8.self))")
    }

    @Test func treesAsJSONSerializationReadsThem() throws {
        let text =
            #"{"s":"q\"b\\s/n\nt\tc\u0001e\u00e9\ud83d\ude00","b":true,"f":false,"i":-12,"big":9007199254740993,"#
            + #""d":1700000000.5,"whole":3.0,"tiny":1e-7,"n":null,"a":[1,"x",[],{}],"o":{"k":{"l":[true]}}}"#
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        try Self.same(parsed)
        // Values Swift puts in the tree itself, as AWSJSON's conversion does.
        try Self.same([
            "int64": Int64(1_234_567_890_123), "double": 1_700_000_000.25, "bool": true, "int": 7,
            "list": [Any](), "nested": ["x": "y"] as [String: Any], "unicode": "ключ 🔑",
        ])
    }

    @Test func keysAreSortedAndSlashesLeftAlone() throws {
        let data = try JSONWriter.data(["b": "a/b", "a": 1, "C": [String: Any]()])
        #expect(String(decoding: data, as: UTF8.self) == #"{"C":{},"a":1,"b":"a/b"}"#)
    }

    @Test func whatIsNotJSONIsRefused() {
        #expect(throws: JSONWriter.InvalidValue.self) { try JSONWriter.data(["x": Date()]) }
        #expect(throws: JSONWriter.InvalidValue.self) { try JSONWriter.data(["x": Double.nan]) }
    }

    /// Every response of the hot path and a KeyMetadata with every kind of member encode to what
    /// `AWSJSON.object` builds.
    @Test func messagesEncodeAsTheirObjects() throws {
        var metadata = KMSKeyMetadata()
        metadata.keyID = "k"
        metadata.arn = "arn:aws:kms:us-east-1:111122223333:key/k"
        metadata.keyState = .pendingDeletion
        metadata.keySpec = .symmetricDefault
        metadata.enabled = true
        metadata.encryptionAlgorithms = [.symmetricDefault]
        metadata.creationDate = Google_Protobuf_Timestamp(date: Date(timeIntervalSince1970: 1_700_000_000.5))
        metadata.pendingDeletionWindowInDays = 7
        var describe = KMSDescribeKeyResponse()
        describe.keyMetadata = metadata
        var generate = KMSGenerateDataKeyResponse()
        generate.keyID = metadata.arn
        generate.plaintext = Data((0..<32).map { UInt8($0) })
        generate.ciphertextBlob = Data(repeating: 0xFE, count: 150)
        var decrypt = KMSDecryptResponse()
        decrypt.keyID = metadata.arn
        decrypt.plaintext = Data([0, 1, 2])
        decrypt.encryptionAlgorithm = .symmetricDefault
        let messages: [any SwiftProtobuf.Message] = [describe, generate, decrypt, KMSListKeysResponse()]
        for message in messages {
            let object = try AWSJSON.object(message)
            let data = try AWSJSON.data(message)
            let parsed = try #require(try JSONSerialization.jsonObject(with: data) as? NSDictionary)
            #expect(parsed == object as NSDictionary, "\(String(decoding: data, as: UTF8.self))")
        }
    }
}
