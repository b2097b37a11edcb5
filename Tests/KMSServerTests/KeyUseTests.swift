import KMSProto
import Testing

@testable import KMSServer

/// KeyUse is the one place a key-using operation's action name is written, so its names must be
/// the real ones: a misspelt action would be refused by every policy. Pure: no process.
@Suite struct KeyUseTests {
    @Test func everyUseIsAnActionAWSAllowsAcrossAccountsAndRecordsARealOperation() {
        for use in KeyUse.allCases {
            #expect(PolicyGate.crossAccountActions.contains(use.action), "\(use)")
            if let operation = use.lastUseOperation {
                #expect(KMSMethod.allNames.contains(operation), "\(use): \(operation)")
            }
        }
        #expect(KeyUse.reEncryptFrom.lastUseOperation == "ReEncrypt")
        #expect(KeyUse.getPublicKey.lastUseOperation == nil)
        #expect(KeyUse.allCases.filter(\.mayCreateAWSManagedKey).count == 6)
    }
}
