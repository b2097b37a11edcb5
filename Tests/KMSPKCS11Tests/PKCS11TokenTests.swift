import Foundation
import KMSPKCS11
import KMSTestSupport
import Synchronization
import Testing

/// KMSPKCS11 against SoftHSM2 tokens made for each test.
@Suite struct PKCS11TokenTests {
    static func connect(_ token: SoftHSMToken, pin: String? = nil) throws -> PKCS11Token {
        let module = try PKCS11Module.load(path: token.modulePath)
        return try PKCS11Token.connect(module: module, label: token.label, pin: Array((pin ?? token.pin).utf8))
    }

    static func error(_ body: () throws -> Void) -> PKCS11Error? {
        do {
            try body()
            return nil
        } catch let error as PKCS11Error {
            return error
        } catch {
            Issue.record("not a PKCS11Error: \(error)")
            return nil
        }
    }

    @Test func generatesANonExtractableKeyAndRoundTripsAESGCM() async throws {
        let softhsm = try await SoftHSMToken.shared()
        let token = try Self.connect(softhsm)
        defer { token.close() }
        try token.generateAESKey(label: "key-1")
        #expect(try token.hasKey(label: "key-1"))
        #expect(try !token.hasKey(label: "key-2"))

        let protection = try token.protection(ofKey: "key-1")
        #expect(protection.sensitive)
        #expect(!protection.extractable)
        #expect(protection.neverExtractable)
        #expect(protection.valueReadResult != .ok)
        #expect(protection.valueReadResult == .attributeSensitive)

        let iv = (0..<12).map { UInt8($0) }
        let plaintext = Array("attack at dawn".utf8)
        let sealed = try token.encrypt(keyLabel: "key-1", iv: iv, aad: Array("aad".utf8), plaintext: plaintext)
        #expect(sealed.count == plaintext.count + 16)
        #expect(Array(sealed.prefix(plaintext.count)) != plaintext)
        #expect(try token.decrypt(keyLabel: "key-1", iv: iv, aad: Array("aad".utf8), ciphertext: sealed) == plaintext)
        // Empty plaintext and empty AAD are fine too.
        let empty = try token.encrypt(keyLabel: "key-1", iv: iv, aad: [], plaintext: [])
        #expect(try token.decrypt(keyLabel: "key-1", iv: iv, aad: [], ciphertext: empty) == [])

        let wrongAAD = Self.error { _ = try token.decrypt(keyLabel: "key-1", iv: iv, aad: [1], ciphertext: sealed) }
        // SoftHSM2 answers CKR_GENERAL_ERROR where the standard says CKR_ENCRYPTED_DATA_INVALID.
        #expect(wrongAAD?.returnValue == .generalError || wrongAAD?.returnValue == .encryptedDataInvalid)
        var tampered = sealed
        tampered[0] ^= 1
        #expect(
            Self.error {
                _ = try token.decrypt(keyLabel: "key-1", iv: iv, aad: Array("aad".utf8), ciphertext: tampered)
            } != nil)
        let otherIV = [UInt8](repeating: 9, count: 12)
        #expect(
            Self.error {
                _ = try token.decrypt(keyLabel: "key-1", iv: otherIV, aad: Array("aad".utf8), ciphertext: sealed)
            } != nil)
        // A failed decryption leaves the session usable.
        #expect(try token.decrypt(keyLabel: "key-1", iv: iv, aad: Array("aad".utf8), ciphertext: sealed) == plaintext)
        #expect(token.isUsable)
    }

    @Test func aLabelNamesOneKey() async throws {
        let softhsm = try await SoftHSMToken.shared()
        let token = try Self.connect(softhsm)
        defer { token.close() }
        try token.generateAESKey(label: "same")
        #expect(Self.error { try token.generateAESKey(label: "same") } == .duplicateKeys(label: "same"))
        #expect(
            Self.error {
                _ = try token.encrypt(keyLabel: "none", iv: [UInt8](repeating: 0, count: 12), aad: [], plaintext: [1])
            } == .keyNotFound(label: "none"))
    }

    @Test func keysPersistAcrossConnectionsAndDestroyRemovesThem() async throws {
        let softhsm = try await SoftHSMToken.shared()
        let iv = [UInt8](repeating: 7, count: 12)
        let first = try Self.connect(softhsm)
        try first.generateAESKey(label: "persistent")
        let sealed = try first.encrypt(keyLabel: "persistent", iv: iv, aad: [], plaintext: [1, 2, 3])
        first.close()
        #expect(!first.isUsable)
        #expect(Self.error { _ = try first.hasKey(label: "persistent") } == .disconnected)

        let second = try Self.connect(softhsm)
        defer { second.close() }
        #expect(try second.decrypt(keyLabel: "persistent", iv: iv, aad: [], ciphertext: sealed) == [1, 2, 3])
        try second.destroyKey(label: "persistent")
        #expect(try !second.hasKey(label: "persistent"))
        #expect(Self.error { try second.destroyKey(label: "persistent") } == .keyNotFound(label: "persistent"))
    }

    @Test func wrongPINIsAClearErrorWithoutThePIN() async throws {
        let softhsm = try await SoftHSMToken.shared()
        let error = Self.error { _ = try Self.connect(softhsm, pin: "wrong-pin-0815") }
        #expect(error == .call(function: "C_Login", returnValue: .pinIncorrect))
        let text = "\(String(describing: error))"
        #expect(text.contains("CKR_PIN_INCORRECT"))
        #expect(!text.contains("wrong-pin-0815"))
        #expect(!text.contains(softhsm.pin))
        // The right PIN still works afterwards (one wrong try does not lock SoftHSM's user PIN).
        let token = try Self.connect(softhsm)
        token.close()
    }

    @Test func unknownTokenLabel() async throws {
        let softhsm = try await SoftHSMToken.shared()
        let module = try PKCS11Module.load(path: softhsm.modulePath)
        let error = Self.error { _ = try PKCS11Token.connect(module: module, label: "no-such-token", pin: [1]) }
        #expect(error == .tokenNotFound(label: "no-such-token"))
        let long = String(repeating: "x", count: 33)
        #expect(
            Self.error { _ = try PKCS11Token.connect(module: module, label: long, pin: [1]) }
                == .tokenNotFound(label: long))
    }

    @Test func modulesThatAreNotThereOrNotPKCS11() throws {
        guard
            case .moduleNotLoadable(let path, let reason)? = Self.error({
                _ = try PKCS11Module.load(path: "/nonexistent/libnothing.so")
            })
        else {
            Issue.record("a missing module loaded")
            return
        }
        #expect(path == "/nonexistent/libnothing.so")
        #expect(!reason.isEmpty)
        // A shared library, but not a PKCS #11 module.
        let libc = [
            "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libm.so.6",
        ]
        .first { FileManager.default.fileExists(atPath: $0) }
        let library = try #require(libc)
        guard case .notAPKCS11Module? = Self.error({ _ = try PKCS11Module.load(path: library) }) else {
            Issue.record("\(library) loaded as a PKCS #11 module")
            return
        }
        // Not a shared library at all.
        guard case .moduleNotLoadable? = Self.error({ _ = try PKCS11Module.load(path: "/etc/hostname") }) else {
            Issue.record("/etc/hostname loaded")
            return
        }
    }

    @Test func returnValuesHaveTheirStandardNames() {
        #expect(PKCS11ReturnValue.pinIncorrect.name == "CKR_PIN_INCORRECT")
        #expect(PKCS11ReturnValue(rawValue: 0x150).name == "CKR_BUFFER_TOO_SMALL")
        #expect(PKCS11ReturnValue(rawValue: 0x8000_0001).name == "CKR_VENDOR_DEFINED+0x1")
        #expect(PKCS11ReturnValue(rawValue: 0x4).name == "CKR_0x4")
        #expect(
            "\(PKCS11Error.call(function: "C_Login", returnValue: .pinLocked))" == "C_Login failed with CKR_PIN_LOCKED")
    }

    @Test func concurrentCallsShareABoundedPoolOfSessions() async throws {
        let softhsm = try await SoftHSMToken.shared()
        let module = try PKCS11Module.load(path: softhsm.modulePath)
        let token = try PKCS11Token.connect(
            module: module, label: softhsm.label, pin: Array(softhsm.pin.utf8), maxSessions: 3)
        defer { token.close() }
        try token.generateAESKey(label: "busy")
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<50 {
                let iv = (0..<12).map { UInt8(truncatingIfNeeded: $0 &+ worker &* 31 &+ round) }
                let plaintext = [UInt8](repeating: UInt8(worker), count: round)
                do {
                    let sealed = try token.encrypt(keyLabel: "busy", iv: iv, aad: [UInt8(round)], plaintext: plaintext)
                    let opened = try token.decrypt(keyLabel: "busy", iv: iv, aad: [UInt8(round)], ciphertext: sealed)
                    if opened != plaintext { failures.withLock { $0 += 1 } }
                } catch {
                    failures.withLock { $0 += 1 }
                }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        #expect(token.openSessions <= 3)
    }
}
