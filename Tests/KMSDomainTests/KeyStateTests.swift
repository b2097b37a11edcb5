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
