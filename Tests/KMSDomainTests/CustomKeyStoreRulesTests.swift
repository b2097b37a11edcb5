import Foundation
import KMSDomain
import Testing

/// AWS's connection state rules of custom key stores, and the shapes of their parameters, as values.
@Suite struct CustomKeyStoreRulesTests {
    static func store(_ state: CustomKeyStoreConnectionState) -> CustomKeyStoreRecord {
        CustomKeyStoreRecord(
            id: CustomKeyStoreID("cks-0123456789abcdef0")!, account: "111122223333", region: "us-east-1",
            name: "store", type: .externalKeyStore, connectionState: state, xks: nil, creationDate: Date(), version: 1)
    }

    static func code(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return (error as? KMSError)?.code.rawValue ?? "\(error)"
        }
    }

    static let invalidState = "CustomKeyStoreInvalidStateException"

    @Test func idsAreCksAndSeventeenHexDigits() {
        #expect(CustomKeyStoreID("cks-0123456789ABCDEF0")?.description == "cks-0123456789abcdef0")
        for bad in ["cks-0123456789abcdef", "cks-0123456789abcdef01", "cks_0123456789abcdef0", "cks-0123456789abcdefg"]
        {
            #expect(CustomKeyStoreID(bad) == nil, "\(bad)")
        }
        let random = CustomKeyStoreID.random()
        #expect(CustomKeyStoreID(random.description) == random)
        #expect(
            Self.store(.connected).arn(partition: "aws")
                == "arn:aws:kms:us-east-1:111122223333:key-store/cks-0123456789abcdef0")
    }

    @Test func connectIsValidInEveryStateButDisconnectingAndFailed() throws {
        #expect(try Self.store(.disconnected).connection() == .connect)
        #expect(try Self.store(.connected).connection() == .alreadyUnderway)
        #expect(try Self.store(.connecting).connection() == .alreadyUnderway)
        for state in [CustomKeyStoreConnectionState.failed, .disconnecting] {
            #expect(Self.code { _ = try Self.store(state).connection() } == Self.invalidState, "\(state)")
        }
    }

    @Test func disconnectIsValidInEveryStateButDisconnectedAndDisconnecting() {
        for state in CustomKeyStoreConnectionState.allCases {
            let expected = [.disconnected, .disconnecting].contains(state) ? Self.invalidState : nil
            #expect(Self.code { try Self.store(state).checkDisconnectable() } == expected, "\(state)")
        }
    }

    @Test func deleteAndEndpointChangesNeedDisconnected() {
        for state in CustomKeyStoreConnectionState.allCases {
            let expected = state == .disconnected ? nil : Self.invalidState
            #expect(Self.code { try Self.store(state).checkDeletable() } == expected, "\(state)")
            #expect(
                Self.code { try Self.store(state).checkUpdatable(changesEndpointOrConnectivity: true) } == expected,
                "\(state)")
            // The name, path and credential change in any state.
            #expect(Self.code { try Self.store(state).checkUpdatable(changesEndpointOrConnectivity: false) } == nil)
        }
    }

    @Test func keysAreCreatedOnlyInAConnectedStoreAndAreUnavailableOtherwise() {
        for state in CustomKeyStoreConnectionState.allCases {
            let store = Self.store(state)
            #expect(Self.code { try store.checkKeyCreation() } == (state == .connected ? nil : Self.invalidState))
            #expect(store.keyState(stored: .enabled) == (state == .connected ? .enabled : .unavailable))
            #expect(store.keyState(stored: .pendingDeletion) == .pendingDeletion)
        }
    }

    @Test func proxyParametersFollowBotocoresPatterns() {
        func valid(_ body: () throws -> Void) -> Bool { Self.code(body) == nil }
        #expect(valid { try CustomKeyStoreValidation.uriEndpoint("https://xks.example.com") })
        #expect(valid { try CustomKeyStoreValidation.uriEndpoint("https://127.0.0.1:8443") })
        #expect(!valid { try CustomKeyStoreValidation.uriEndpoint("http://xks.example.com") })
        #expect(!valid { try CustomKeyStoreValidation.uriEndpoint("https://xks.example.com/path") })
        #expect(!valid { try CustomKeyStoreValidation.uriEndpoint("https://a:0") })
        #expect(valid { try CustomKeyStoreValidation.uriPath("/kms/xks/v1") })
        #expect(valid { try CustomKeyStoreValidation.uriPath("/example/prefix/kms/xks/v12") })
        #expect(!valid { try CustomKeyStoreValidation.uriPath("/kms/xks/v123") })
        #expect(!valid { try CustomKeyStoreValidation.uriPath("kms/xks/v1") })
        #expect(!valid { try CustomKeyStoreValidation.uriPath("/bad prefix/kms/xks/v1") })
        let secret = String(repeating: "A", count: 43)
        #expect(valid { try CustomKeyStoreValidation.credential(accessKeyID: "ABCDEFGHIJKLMNOPQRST", secret: secret) })
        #expect(!valid { try CustomKeyStoreValidation.credential(accessKeyID: "ABCDEFGHIJKLMNOPQRS1", secret: secret) })
        #expect(
            !valid { try CustomKeyStoreValidation.credential(accessKeyID: "ABCDEFGHIJKLMNOPQRST", secret: "short") })
        do {
            try CustomKeyStoreValidation.credential(accessKeyID: "ABCDEFGHIJKLMNOPQRST", secret: "bad secret!" + secret)
            Issue.record("a bad secret passed")
        } catch {
            #expect(!"\(error)".contains("bad secret"), "the message repeats the secret")
        }
    }
}
