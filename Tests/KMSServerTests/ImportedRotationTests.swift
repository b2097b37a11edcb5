import Foundation
import KMSClient
import KMSCrypto
import KMSDomain
import KMSProto
import KMSTestSupport
import Testing

/// Rotation of imported key material (issue 20 §2): through boto3 against the AWS JSON API
/// (Tests/aws-clients/imported_rotation_suite.py) and through the binary protocol here.
@Suite struct ImportedRotationTests {
    @Test func importRotateListAndDeleteThroughBoto3() async throws {
        let suite = try await AWSClientTests.runOnNewStack(["imported_rotation_suite.py"], unprivileged: true)[0]
        #expect(suite.status == 0, "\(suite.output)")
        #expect(suite.output.contains("Ran 6 tests"), "\(suite.output)")
    }

    /// Imports `material` into `keyID` through `kms`; its KeyMaterialId.
    static func importMaterial(
        _ kms: KMSClient, _ keyID: String, _ material: [UInt8], type: KMSImportType? = nil,
        materialID: String? = nil, description: String? = nil, validFor: TimeInterval? = nil
    ) async throws -> String {
        var parameters = KMSGetParametersForImportRequest()
        parameters.keyID = keyID
        parameters.wrappingAlgorithm = .rsaesOaepSha256
        parameters.wrappingKeySpec = .rsa2048
        let answer = try await kms.call(KMSMethod.getParametersForImport, parameters)
        let wrappingKey = try PublicKey(spkiDER: [UInt8](answer.publicKey), spec: .rsa2048)
        var request = KMSImportKeyMaterialRequest()
        request.keyID = keyID
        request.importToken = answer.importToken
        request.encryptedKeyMaterial = Data(
            try ImportedKeyMaterial.wrap(material, algorithm: .rsaesOaepSha256, wrappingKey: wrappingKey))
        request.expirationModel = .keyMaterialDoesNotExpire
        if let validFor {
            request.validTo = .init(date: Date().addingTimeInterval(validFor))
            request.expirationModel = .keyMaterialExpires
        }
        if let type { request.importType = type }
        if let materialID { request.keyMaterialID = materialID }
        if let description { request.keyMaterialDescription = description }
        return try await kms.call(KMSMethod.importKeyMaterial, request).keyMaterialID
    }

    static func list(_ kms: KMSClient, _ keyID: String, all: Bool) async throws -> [KMSRotationsListEntry] {
        var request = KMSListKeyRotationsRequest()
        request.keyID = keyID
        request.includeKeyMaterial = all ? .allKeyMaterial : .rotationsOnly
        return try await kms.call(KMSMethod.listKeyRotations, request).rotations
    }

    @Test func rotationOfImportedMaterialOverTheBinaryProtocol() async throws {
        let stack = try await KMSStack.start()
        let kms = stack.client
        let key = try await AsymmetricKeyTests.createKey(
            kms, spec: .symmetricDefault, usage: .encryptDecrypt, origin: .external)
        let first = (0..<32).map { UInt8($0) }
        let second = (0..<32).map { UInt8(100 + $0) }
        let stranger = (0..<32).map { UInt8(200 + $0) }
        let firstID = try await Self.importMaterial(kms, key.keyID, first, description: "first")
        let oldBlob = try await kms.encrypt(key.keyID, [1, 2, 3])
        var rotate = KMSRotateKeyOnDemandRequest()
        rotate.keyID = key.keyID
        #expect(
            await code { _ = try await kms.call(KMSMethod.rotateKeyOnDemand, rotate) } == "KMSInvalidStateException")
        let secondID = try await Self.importMaterial(kms, key.keyID, second, type: .newKeyMaterial)
        #expect(try await kms.describe(key.keyID).currentKeyMaterialID == firstID)
        var entries = try await Self.list(kms, key.keyID, all: true)
        #expect(entries.map(\.keyMaterialID) == [firstID, secondID])
        #expect(entries.map(\.keyMaterialState) == [.current, .pendingRotation])
        #expect(entries.first?.keyMaterialDescription == "first")
        do {
            _ = try await Self.importMaterial(kms, key.keyID, stranger, type: .newKeyMaterial)
            Issue.record("a second pending material was imported")
        } catch let error as KMSClientError {
            #expect(error.code == "KMSInvalidStateException")
            #expect(error.message.hasSuffix("another key material (id: \(secondID)) is pending rotation."))
        }
        // A principal allowed everything but these two actions is refused them.
        let (_, limited) = try await stack.principal(
            "limited",
            policies: [
                "deny": AsymmetricKeyTests.policy(
                    #"{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}, "#
                        + #"{"Effect": "Deny", "Action": ["kms:RotateKeyOnDemand", "kms:ImportKeyMaterial"], "#
                        + #""Resource": "*"}"#)
            ])
        #expect(
            await code { _ = try await limited.call(KMSMethod.rotateKeyOnDemand, rotate) } == "AccessDeniedException")
        #expect(
            await code { _ = try await Self.importMaterial(limited, key.keyID, first) } == "AccessDeniedException")
        _ = try await kms.call(KMSMethod.rotateKeyOnDemand, rotate)
        #expect(try await kms.describe(key.keyID).currentKeyMaterialID == secondID)
        #expect(try await kms.decrypt(oldBlob).plaintext == Data([1, 2, 3]))
        let newBlob = try await kms.encrypt(key.keyID, [4, 5, 6])
        #expect(try await kms.decrypt(newBlob).keyMaterialID == secondID)
        entries = try await Self.list(kms, key.keyID, all: false)
        #expect(entries.map(\.keyMaterialID) == [secondID])
        #expect(entries.first?.rotationType == .onDemand)

        // Deleting the non-current material: PendingImport, old ciphertexts refused, until re-imported.
        var delete = KMSDeleteImportedKeyMaterialRequest()
        delete.keyID = key.keyID
        delete.keyMaterialID = firstID
        #expect(try await kms.call(KMSMethod.deleteImportedKeyMaterial, delete).keyMaterialID == firstID)
        #expect(try await kms.describe(key.keyID).keyState == .pendingImport)
        #expect(await code { _ = try await kms.decrypt(oldBlob) } == "KMSInvalidStateException")
        #expect(
            await code {
                _ = try await Self.importMaterial(
                    kms, key.keyID, stranger, type: .existingKeyMaterial, materialID: firstID)
            } == "IncorrectKeyMaterialException")
        #expect(
            await code { _ = try await Self.importMaterial(kms, key.keyID, stranger, type: .existingKeyMaterial) }
                == "IncorrectKeyMaterialException")
        #expect(
            try await Self.importMaterial(kms, key.keyID, first, type: .existingKeyMaterial, materialID: firstID)
                == firstID)
        #expect(try await kms.describe(key.keyID).keyState == .enabled)
        #expect(try await kms.decrypt(oldBlob).plaintext == Data([1, 2, 3]))
        #expect(try await Self.list(kms, key.keyID, all: true).first?.keyMaterialDescription == "first")
        var bad = KMSImportKeyMaterialRequest()
        bad.keyID = key.keyID
        bad.importToken = Data([1])
        bad.encryptedKeyMaterial = Data([1])
        bad.importType = KMSImportType(rawValue: 9)!
        #expect(await code { _ = try await kms.call(KMSMethod.importKeyMaterial, bad) } == "ValidationException")
        await stack.stop()
    }

    @Test func theKMSCommandLineImportsRotatesListsAndDeletes() async throws {
        let stack = try await KMSStack.start()
        let env = stack.environment
        let key = try await AsymmetricKeyTests.createKey(
            stack.client, spec: .symmetricDefault, usage: .encryptDecrypt, origin: .external)
        let firstID = try await Self.importMaterial(stack.client, key.keyID, (0..<32).map { UInt8($0) })
        var parameters = KMSGetParametersForImportRequest()
        parameters.keyID = key.keyID
        parameters.wrappingAlgorithm = .rsaesOaepSha256
        parameters.wrappingKeySpec = .rsa2048
        let answer = try await stack.client.call(KMSMethod.getParametersForImport, parameters)
        let wrappingKey = try PublicKey(spkiDER: [UInt8](answer.publicKey), spec: .rsa2048)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kms-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let token = folder.appendingPathComponent("token")
        let material = folder.appendingPathComponent("material")
        try answer.importToken.write(to: token)
        try Data(
            try ImportedKeyMaterial.wrap(
                (0..<32).map { UInt8(50 + $0) }, algorithm: .rsaesOaepSha256, wrappingKey: wrappingKey)
        ).write(to: material)
        let imported = try await CLITests.kms(
            [
                "import-key-material", "--key-id", key.keyID, "--import-token", "fileb://\(token.path)",
                "--encrypted-key-material", "fileb://\(material.path)", "--expiration-model",
                "KEY_MATERIAL_DOES_NOT_EXPIRE", "--import-type", "NEW_KEY_MATERIAL", "--key-material-description",
                "from the kms CLI", "--query", "KeyMaterialId", "--output", "text",
            ], env: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        let secondID = imported.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let listed = try await CLITests.kms(
            [
                "list-key-rotations", "--key-id", key.keyID, "--include-key-material", "ALL_KEY_MATERIAL", "--output",
                "json",
            ], env: env)
        let rotations = try #require(
            try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])["Rotations"]
        let entries = try #require(rotations as? [[String: Any]], "\(listed.stdout) \(listed.stderr)")
        #expect(entries.compactMap { $0["KeyMaterialState"] as? String } == ["CURRENT", "PENDING_ROTATION"])
        #expect(entries.last?["KeyMaterialDescription"] as? String == "from the kms CLI")
        #expect(try await CLITests.kms(["rotate-key-on-demand", "--key-id", key.keyID], env: env).status == 0)
        #expect(try await stack.client.describe(key.keyID).currentKeyMaterialID == secondID)
        let deleted = try await CLITests.kms(
            [
                "delete-imported-key-material", "--key-id", key.keyID, "--key-material-id", firstID, "--query",
                "KeyMaterialId", "--output", "text",
            ], env: env)
        #expect(deleted.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == firstID, "\(deleted.stderr)")
        #expect(try await stack.client.describe(key.keyID).keyState == .pendingImport)
        await stack.stop()
    }

    /// A non-current material expires on its own: the reaper deletes it, the key waits for it
    /// (PendingImport), and the same material imported again restores the key.
    @Test func aNonCurrentMaterialExpiresAndComesBack() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--reaper-interval-seconds", "1"])
        let kms = stack.client
        let key = try await AsymmetricKeyTests.createKey(
            kms, spec: .symmetricDefault, usage: .encryptDecrypt, origin: .external)
        let first = (0..<32).map { UInt8($0) }
        // Long enough for the steps before its expiry (each GetParametersForImport generates an RSA
        // key pair) on a machine the whole suite shares: 8 s ran out before the rotation once.
        let firstID = try await Self.importMaterial(kms, key.keyID, first, validFor: 30)
        let oldBlob = try await kms.encrypt(key.keyID, [7])
        let secondID = try await Self.importMaterial(
            kms, key.keyID, (0..<32).map { UInt8(9 + $0) }, type: .newKeyMaterial)
        var rotate = KMSRotateKeyOnDemandRequest()
        rotate.keyID = key.keyID
        _ = try await kms.call(KMSMethod.rotateKeyOnDemand, rotate)
        let described = try await kms.describe(key.keyID)
        #expect(described.currentKeyMaterialID == secondID)
        #expect(described.expirationModel == .keyMaterialDoesNotExpire)
        var state = KMSKeyState.enabled
        for _ in 0..<240 where state != .pendingImport {
            try await Task.sleep(for: .milliseconds(250))
            state = try await kms.describe(key.keyID).keyState
        }
        #expect(state == .pendingImport)
        let entries = try await Self.list(kms, key.keyID, all: true)
        #expect(entries.map(\.importState) == [.pendingImport, .imported])
        #expect(await code { _ = try await kms.decrypt(oldBlob) } == "KMSInvalidStateException")
        #expect(try await Self.importMaterial(kms, key.keyID, first, materialID: firstID) == firstID)
        #expect(try await kms.describe(key.keyID).keyState == .enabled)
        #expect(try await kms.decrypt(oldBlob).plaintext == Data([7]))
        await stack.stop()
    }
}
