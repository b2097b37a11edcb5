import Foundation
import KMSClient
import KMSCrypto
import KMSProto
import KMSTestSupport
import Testing

/// Issue 23, multi-Region keys with imported material, as AWS has them: no material is copied
/// between related keys; each imports the same material itself (anything else is
/// IncorrectKeyMaterialException), new material goes into the primary first, and
/// RotateKeyOnDemand waits until every replica has imported it.
@Suite struct MultiRegionImportedMaterialTests {
    typealias World = MultiRegionWorld

    /// GetParametersForImport and ImportKeyMaterial over the AWS JSON API in `client`'s region.
    static func importMaterial(
        _ world: World, _ client: AWSJSONTestClient, _ keyID: String, _ material: [UInt8], type: String? = nil
    ) async throws -> Result<[String: Any], World.Failure> {
        let parameters = try await world.call(
            client, "GetParametersForImport",
            ["KeyId": keyID, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"]
        ).get()
        let publicKey = try #require(Data(base64Encoded: parameters["PublicKey"] as? String ?? ""))
        let wrapped = try ImportedKeyMaterial.wrap(
            material, algorithm: .rsaesOaepSha256,
            wrappingKey: try PublicKey(spkiDER: [UInt8](publicKey), spec: .rsa2048))
        var body: [String: Any] = [
            "KeyId": keyID, "ImportToken": parameters["ImportToken"] as? String ?? "",
            "EncryptedKeyMaterial": Data(wrapped).base64EncodedString(),
            "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
        ]
        if let type { body["ImportType"] = type }
        return try await world.call(client, "ImportKeyMaterial", body)
    }

    /// The key's materials as ListKeyRotations (ALL_KEY_MATERIAL) shows them: id -> state, import state.
    static func materials(_ world: World, _ client: AWSJSONTestClient, _ keyID: String) async throws
        -> [String: String]
    {
        let listed = try await world.call(
            client, "ListKeyRotations", ["KeyId": keyID, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"]
        ).get()
        let entries = try #require(listed["Rotations"] as? [[String: Any]])
        var states: [String: String] = [:]
        for entry in entries {
            let id = try #require(entry["KeyMaterialId"] as? String)
            states[id] = "\(entry["KeyMaterialState"] as? String ?? "-") \(entry["ImportState"] as? String ?? "-")"
        }
        return states
    }

    struct Missing: Error { var name: String }

    /// The string member `name` of a successful reply.
    static func text(_ reply: Result<[String: Any], World.Failure>, _ name: String) throws -> String {
        guard let value = try reply.get()[name] as? String else { throw Missing(name: name) }
        return value
    }

    static func state(_ world: World, _ client: AWSJSONTestClient, _ keyID: String) async throws -> String? {
        let described = try await world.call(client, "DescribeKey", ["KeyId": keyID]).get()
        return (described["KeyMetadata"] as? [String: Any])?["KeyState"] as? String
    }

    @Test func relatedKeysImportTheSameMaterialAndRotateTogether() async throws {
        let world = try await World.start()
        let us = world.admin(in: World.primaryRegion)
        let eu = world.admin(in: World.replicaRegion)
        let created = try await world.call(us, "CreateKey", ["Origin": "EXTERNAL", "MultiRegion": true]).get()
        let metadata = try #require(created["KeyMetadata"] as? [String: Any])
        let keyID = try #require(metadata["KeyId"] as? String)
        #expect(keyID.hasPrefix("mrk-") && metadata["KeyState"] as? String == "PendingImport")
        #expect(metadata["Origin"] as? String == "EXTERNAL" && metadata["MultiRegion"] as? Bool == true)

        // Replicated before any material: the replica waits for its own import too.
        let replicated = try await world.call(
            us, "ReplicateKey", ["KeyId": keyID, "ReplicaRegion": World.replicaRegion]
        ).get()
        let replica = try #require(replicated["ReplicaKeyMetadata"] as? [String: Any])
        #expect(replica["KeyState"] as? String == "PendingImport" && replica["Origin"] as? String == "EXTERNAL")

        let first = (0..<32).map { UInt8($0) }
        let second = (0..<32).map { UInt8(64 + $0) }
        let stranger = (0..<32).map { UInt8(200 + $0) }
        let firstID = try Self.text(try await Self.importMaterial(world, us, keyID, first), "KeyMaterialId")
        #expect(try await Self.state(world, us, keyID) == "Enabled")
        #expect(try await Self.state(world, eu, keyID) == "PendingImport")
        #expect(try await Self.materials(world, eu, keyID) == [firstID: "CURRENT PENDING_IMPORT"])
        let encryptedInUS = try Self.text(
            try await world.call(us, "Encrypt", ["KeyId": keyID, "Plaintext": Data([7]).base64EncodedString()]),
            "CiphertextBlob")
        #expect(
            try await world.call(eu, "Decrypt", ["CiphertextBlob": encryptedInUS]).code == "KMSInvalidStateException")

        // The replica takes only the family's material, and never new material of its own.
        #expect(
            try await Self.importMaterial(world, eu, keyID, stranger).code == "IncorrectKeyMaterialException")
        #expect(
            try await Self.importMaterial(world, eu, keyID, stranger, type: "NEW_KEY_MATERIAL").code
                == "UnsupportedOperationException")
        let replicaFirstID = try await Self.importMaterial(world, eu, keyID, first).get()["KeyMaterialId"] as? String
        #expect(replicaFirstID == firstID)
        #expect(try await Self.state(world, eu, keyID) == "Enabled")
        let decrypted = try await world.call(eu, "Decrypt", ["CiphertextBlob": encryptedInUS]).get()
        #expect(decrypted["Plaintext"] as? String == Data([7]).base64EncodedString())

        // New material: into the primary first; the rotation waits for the replica.
        let secondID = try Self.text(
            try await Self.importMaterial(world, us, keyID, second, type: "NEW_KEY_MATERIAL"), "KeyMaterialId")
        #expect(
            try await Self.materials(world, us, keyID)
                == [firstID: "CURRENT IMPORTED", secondID: "PENDING_MULTI_REGION_IMPORT_AND_ROTATION IMPORTED"])
        #expect(try await Self.materials(world, eu, keyID)[secondID] == "PENDING_ROTATION PENDING_IMPORT")
        let early = try await world.call(us, "RotateKeyOnDemand", ["KeyId": keyID])
        #expect(early.code == "KMSInvalidStateException")
        #expect(
            (try? early.get()) == nil
                && "\(early)".contains("not imported into the replica key"), "\(early)")
        #expect(
            try await Self.importMaterial(world, eu, keyID, second, type: "EXISTING_KEY_MATERIAL").get()[
                "KeyMaterialId"]
                as? String == secondID)
        #expect(try await Self.materials(world, us, keyID)[secondID] == "PENDING_ROTATION IMPORTED")
        #expect(try await world.call(eu, "RotateKeyOnDemand", ["KeyId": keyID]).code == "UnsupportedOperationException")
        _ = try await world.call(us, "RotateKeyOnDemand", ["KeyId": keyID]).get()
        for client in [us, eu] {
            let described = try await world.call(client, "DescribeKey", ["KeyId": keyID]).get()
            #expect((described["KeyMetadata"] as? [String: Any])?["CurrentKeyMaterialId"] as? String == secondID)
            #expect(try await Self.materials(world, client, keyID)[secondID] == "CURRENT IMPORTED")
        }
        let encryptedInEU = try Self.text(
            try await world.call(eu, "Encrypt", ["KeyId": keyID, "Plaintext": Data([8]).base64EncodedString()]),
            "CiphertextBlob")
        let back = try await world.call(us, "Decrypt", ["CiphertextBlob": encryptedInEU]).get()
        #expect(
            back["Plaintext"] as? String == Data([8]).base64EncodedString()
                && back["KeyMaterialId"] as? String == secondID)
        #expect(try await world.call(eu, "Decrypt", ["CiphertextBlob": encryptedInUS]).code == nil)

        // Deleting the primary's material pending rotation deletes it from the replica too.
        let thirdID = try Self.text(
            try await Self.importMaterial(world, us, keyID, stranger, type: "NEW_KEY_MATERIAL"), "KeyMaterialId")
        #expect(try await Self.materials(world, eu, keyID)[thirdID] == "PENDING_ROTATION PENDING_IMPORT")
        _ = try await world.call(us, "DeleteImportedKeyMaterial", ["KeyId": keyID, "KeyMaterialId": thirdID]).get()
        #expect(try await Self.materials(world, eu, keyID)[thirdID] == nil)
        #expect(try await Self.materials(world, us, keyID)[thirdID] == nil)

        // A replica's own deletion leaves the primary alone (their states are independent).
        _ = try await world.call(eu, "DeleteImportedKeyMaterial", ["KeyId": keyID]).get()
        #expect(try await Self.state(world, eu, keyID) == "PendingImport")
        #expect(try await Self.state(world, us, keyID) == "Enabled")
        #expect(
            try await world.call(eu, "Decrypt", ["CiphertextBlob": encryptedInEU]).code == "KMSInvalidStateException")
        #expect(try await world.call(us, "Decrypt", ["CiphertextBlob": encryptedInEU]).code == nil)
        await world.stop()
    }

    @Test func anHMACKeyWithImportedMaterialVerifiesInItsReplica() async throws {
        let world = try await World.start()
        let us = world.admin(in: World.primaryRegion)
        let ap = world.admin(in: World.otherRegion)
        let created = try await world.call(
            us, "CreateKey",
            ["Origin": "EXTERNAL", "MultiRegion": true, "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"]
        ).get()
        let keyID = try #require((created["KeyMetadata"] as? [String: Any])?["KeyId"] as? String)
        let material = (0..<32).map { UInt8(3 * $0) }
        _ = try await Self.importMaterial(world, us, keyID, material).get()
        // Replicated once the primary holds material: still nothing copied.
        _ = try await world.call(us, "ReplicateKey", ["KeyId": keyID, "ReplicaRegion": World.otherRegion]).get()
        #expect(try await Self.state(world, ap, keyID) == "PendingImport")
        let message = Data("to be authenticated".utf8).base64EncodedString()
        let mac = try Self.text(
            try await world.call(
                us, "GenerateMac", ["KeyId": keyID, "Message": message, "MacAlgorithm": "HMAC_SHA_256"]
            ), "Mac")
        let verify: [String: Any] = ["KeyId": keyID, "Message": message, "MacAlgorithm": "HMAC_SHA_256", "Mac": mac]
        #expect(try await world.call(ap, "VerifyMac", verify).code == "KMSInvalidStateException")
        // Other HMAC material is refused; the same is accepted and verifies.
        #expect(
            try await Self.importMaterial(world, ap, keyID, (0..<32).map { UInt8($0) }).code
                == "IncorrectKeyMaterialException")
        _ = try await Self.importMaterial(world, ap, keyID, material).get()
        #expect(try await world.call(ap, "VerifyMac", verify).object?["MacValid"] as? Bool == true)
        await world.stop()
    }
}
