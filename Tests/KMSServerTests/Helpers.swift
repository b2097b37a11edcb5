import Foundation
import KMSClient
import KMSProto
import KMSTestSupport

/// The error code a call failed with, or nil when it succeeded.
func code(_ body: () async throws -> Void) async -> String? {
    do {
        try await body()
        return nil
    } catch let error as KMSClientError {
        return error.code
    } catch {
        return "\(error)"
    }
}

extension KMSClient {
    /// A role (or user) of account 111122223333 with one identity policy (admin calls): its ARN.
    func createPrincipal(_ name: String, type: String = "role", policy: String) async throws -> String {
        let arn = try await self.call(
            AdminMethod.createPrincipal,
            .with {
                $0.accountID = "111122223333"
                $0.type = type
                $0.name = name
            }
        ).principal.arn
        _ = try await self.call(
            AdminMethod.putPrincipalPolicy,
            .with {
                $0.principalArn = arn
                $0.policyName = "policy"
                $0.policyDocument = policy
            })
        return arn
    }

    /// Two users with access keys and no permissions (admin calls): "nobody" of the keys' account
    /// 111122223333, and "stranger" of account 444455556666 (made here). Their credentials, in
    /// that order, with whether the principal is of the keys' account.
    func outsiders() async throws -> [(name: String, sameAccount: Bool, credentials: KMSCredentials)] {
        var made: [(name: String, sameAccount: Bool, credentials: KMSCredentials)] = []
        for (account, name) in [("111122223333", "nobody"), ("444455556666", "stranger")] {
            if account != "111122223333" {
                var create = AdminCreateAccountRequest()
                create.accountID = account
                create.name = "other"
                _ = try await self.call(AdminMethod.createAccount, create)
            }
            var principal = AdminCreatePrincipalRequest()
            principal.accountID = account
            principal.type = "user"
            principal.name = name
            let arn = try await self.call(AdminMethod.createPrincipal, principal).principal.arn
            var key = AdminCreateAccessKeyRequest()
            key.principalArn = arn
            let access = try await self.call(AdminMethod.createAccessKey, key)
            made.append(
                (
                    name, account == "111122223333",
                    KMSCredentials(accessKeyID: access.accessKey.accessKeyID, secretAccessKey: access.secretAccessKey)
                ))
        }
        return made
    }

    func createKey(_ description: String = "") async throws -> KMSKeyMetadata {
        var request = KMSCreateKeyRequest()
        request.description_p = description
        return try await self.call(KMSMethod.createKey, request).keyMetadata
    }

    func encrypt(_ keyID: String, _ plaintext: [UInt8], context: [String: String] = [:]) async throws -> Data {
        var request = KMSEncryptRequest()
        request.keyID = keyID
        request.plaintext = Data(plaintext)
        request.encryptionContext = context
        return try await self.call(KMSMethod.encrypt, request).ciphertextBlob
    }

    func decrypt(_ blob: Data, keyID: String? = nil, context: [String: String] = [:]) async throws -> KMSDecryptResponse
    {
        var request = KMSDecryptRequest()
        request.ciphertextBlob = blob
        request.encryptionContext = context
        if let keyID { request.keyID = keyID }
        return try await self.call(KMSMethod.decrypt, request)
    }

    func describe(_ keyID: String) async throws -> KMSKeyMetadata {
        var request = KMSDescribeKeyRequest()
        request.keyID = keyID
        return try await self.call(KMSMethod.describeKey, request).keyMetadata
    }

    func createAlias(_ name: String, _ keyID: String) async throws {
        var request = KMSCreateAliasRequest()
        request.aliasName = name
        request.targetKeyID = keyID
        _ = try await self.call(KMSMethod.createAlias, request)
    }

    func setEnabled(_ keyID: String, _ enabled: Bool) async throws {
        if enabled {
            var request = KMSEnableKeyRequest()
            request.keyID = keyID
            _ = try await self.call(KMSMethod.enableKey, request)
        } else {
            var request = KMSDisableKeyRequest()
            request.keyID = keyID
            _ = try await self.call(KMSMethod.disableKey, request)
        }
    }
}
