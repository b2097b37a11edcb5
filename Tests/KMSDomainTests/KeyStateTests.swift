import Foundation
import KMSDomain
import Testing

@Suite struct KeyStateTests {
    let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    @Test func onlyEnabledKeysAreUsable() {
        #expect(throws: Never.self) { try KeyState.enabled.checkUsable(keyARN: arn) }
        for state in KeyState.allCases where state != .enabled {
            let expected: KMSError.Code = state == .disabled ? .disabled : .invalidState
            #expect(throws: KMSError.self) { try state.checkUsable(keyARN: arn) }
            do { try state.checkUsable(keyARN: arn) } catch { #expect(error.code == expected, "\(state)") }
        }
        // AWS's messages for the states a caller meets most.
        #expect(throws: KMSError(.disabled, "\(arn) is disabled.")) { try KeyState.disabled.checkUsable(keyARN: arn) }
        #expect(throws: KMSError(.invalidState, "\(arn) is pending import.")) {
            try KeyState.pendingImport.checkUsable(keyARN: arn)
        }
        #expect(throws: KMSError(.invalidState, "\(arn) is pending deletion.")) {
            try KeyState.pendingDeletion.checkUsable(keyARN: arn)
        }
    }

    @Test func enableAndDisableMoveBetweenEnabledAndDisabledOnly() throws {
        #expect(try KeyState.disabled.enabling(keyARN: arn) == .enabled)
        #expect(try KeyState.enabled.enabling(keyARN: arn) == .enabled)
        #expect(try KeyState.enabled.disabling(keyARN: arn) == .disabled)
        #expect(throws: KMSError.self) { try KeyState.pendingDeletion.enabling(keyARN: arn) }
        #expect(throws: KMSError.self) { try KeyState.pendingDeletion.disabling(keyARN: arn) }
        #expect(throws: KMSError.self) { try KeyState.pendingImport.enabling(keyARN: arn) }
    }

    @Test func cancellingDeletionLeavesTheKeyDisabled() throws {
        for start in [KeyState.enabled, .disabled] {
            let pending = try start.schedulingDeletion(keyARN: arn)
            #expect(pending == .pendingDeletion)
            #expect(try pending.cancellingDeletion(keyARN: arn) == .disabled)
        }
        #expect(throws: KMSError.self) { try KeyState.pendingDeletion.schedulingDeletion(keyARN: arn) }
        #expect(throws: KMSError.self) { try KeyState.enabled.cancellingDeletion(keyARN: arn) }
    }

    @Test func metadataIsFrozenWhilePendingDeletion() {
        #expect(throws: KMSError.self) { try KeyState.pendingDeletion.checkModifiable(keyARN: arn) }
        #expect(throws: Never.self) { try KeyState.disabled.checkModifiable(keyARN: arn) }
    }
}

@Suite struct GrantableOperationTests {
    static func record(_ spec: KeySpec, _ usage: KeyUsage) -> KeyRecord {
        KeyRecord(
            keyID: KeyID.random(), arn: "arn", account: "111122223333", region: "us-east-1", description: "",
            state: .enabled,
            usage: usage, spec: spec, origin: .awsKMS, manager: .customer, creationDate: Date(), deletionDate: nil,
            pendingWindowInDays: nil, policy: "", currentMaterialID: nil, version: 1
        )
    }

    @Test func eachUsageGrantsItsOwnOperations() {
        let symmetric = Self.record(.symmetricDefault, .encryptDecrypt).grantableOperations
        #expect(
            symmetric.isSuperset(of: [
                "Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyPair", "ReEncryptFrom", "CreateGrant",
            ]))
        #expect(!symmetric.contains("Sign") && !symmetric.contains("GetPublicKey"))
        let rsa = Self.record(.rsa2048, .encryptDecrypt).grantableOperations
        #expect(rsa.contains("GetPublicKey") && rsa.contains("Decrypt") && !rsa.contains("GenerateDataKey"))
        let signing = Self.record(.eccNistP256, .signVerify).grantableOperations
        #expect(signing == ["Sign", "Verify", "GetPublicKey", "DescribeKey", "CreateGrant", "RetireGrant"])
        let mac = Self.record(.hmac256, .generateVerifyMac).grantableOperations
        #expect(mac == ["GenerateMac", "VerifyMac", "DescribeKey", "CreateGrant", "RetireGrant"])
        let agreement = Self.record(.eccNistP384, .keyAgreement).grantableOperations
        #expect(agreement.contains("DeriveSharedSecret") && !agreement.contains("Sign"))
    }
}
