import CKMSPKCS11
import Synchronization

/// A logged-in connection to one token of a PKCS #11 module, holding AES keys that never leave
/// it: generated on the token as sensitive and non-extractable, found by label, used for AES-GCM.
///
/// The PIN is used once, for C_Login, and not kept: a connection that loses its login (the
/// device restarted, the sessions were closed) reports `isUsable` false and is connected again
/// by whoever holds the PIN.
public final class PKCS11Token: Sendable {
    /// The module the token is in.
    public let module: PKCS11Module
    /// The token's label.
    public let label: String
    /// Its slot.
    public let slot: UInt
    let sessions: PKCS11SessionPool
    /// Object handles by key label: handles stay valid for the application's life of the object,
    /// and finding one costs a search on the token.
    let handles = Mutex<[String: UInt]>([:])
    private let lost = Atomic<Bool>(false)

    /// The standard's limit on a token label.
    public static let maximumLabelBytes = 32
    /// Bytes of the GCM nonce (IV) this backend uses.
    public static let ivLength = 12
    /// Bytes of the GCM tag this backend uses.
    public static let tagLength = 16

    private init(module: PKCS11Module, label: String, slot: UInt, sessions: PKCS11SessionPool) {
        self.module = module
        self.label = label
        self.slot = slot
        self.sessions = sessions
    }

    /// Finds the token labelled `label`, checks that it does AES key generation and AES-GCM, opens a
    /// session and logs in as the user with `pin`. `maxSessions` bounds the sessions (so the
    /// calls) in flight at once; past them a call waits up to `sessionWait`.
    public static func connect(
        module: PKCS11Module, label: String, pin: [UInt8], maxSessions: Int = 4, sessionWait: Duration = .seconds(10)
    ) throws(PKCS11Error) -> PKCS11Token {
        let labelBytes = Array(label.utf8)
        guard !labelBytes.isEmpty, labelBytes.count <= Self.maximumLabelBytes else {
            throw .tokenNotFound(label: label)
        }
        var slot: UInt = 0
        var found: Int32 = 0
        try check(kms_p11_find_slot(module.handle, labelBytes, labelBytes.count, &slot, &found), "C_GetSlotList")
        guard found != 0 else { throw .tokenNotFound(label: label) }
        for (mechanism, flags, name) in [
            (PKCS11Constants.aesKeyGen, PKCS11Constants.generateFlag, "CKM_AES_KEY_GEN"),
            (PKCS11Constants.aesGCM, PKCS11Constants.encryptFlag | PKCS11Constants.decryptFlag, "CKM_AES_GCM"),
        ] {
            var supported: Int32 = 0
            try check(
                kms_p11_mechanism_supported(module.handle, slot, mechanism, flags, &supported), "C_GetMechanismInfo")
            guard supported != 0 else { throw .mechanismNotSupported(name) }
        }
        var session: UInt = 0
        try check(kms_p11_open_session(module.handle, slot, &session), "C_OpenSession")
        let rv = kms_p11_login(module.handle, session, pin, pin.count)
        guard rv == 0 else {
            _ = kms_p11_close_session(module.handle, session)
            throw .call(function: "C_Login", returnValue: PKCS11ReturnValue(rawValue: rv))
        }
        let pool = PKCS11SessionPool(module: module, slot: slot, capacity: maxSessions, wait: sessionWait)
        pool.adopt(session)
        return PKCS11Token(module: module, label: label, slot: slot, sessions: pool)
    }

    /// False once a call found the connection gone (device removed, login lost) or it was closed.
    public var isUsable: Bool { !self.lost.load(ordering: .acquiring) }

    /// Sessions open now.
    public var openSessions: Int { self.sessions.openCount }

    /// Logs out (by closing every session: the last to close ends the login) and refuses later calls.
    public func close() {
        self.lost.store(true, ordering: .releasing)
        self.sessions.close()
    }

    /// Runs `body` on a session of its own; a lost connection marks the token unusable.
    func withSession<T>(_ body: (UInt) throws(PKCS11Error) -> T) throws(PKCS11Error) -> T {
        guard self.isUsable else { throw .disconnected }
        do throws(PKCS11Error) {
            return try self.sessions.withSession(body)
        } catch {
            if error.connectionLost { self.lost.store(true, ordering: .releasing) }
            throw error
        }
    }

    /// What the token says of itself, and whether this connection is still logged in.
    public func health() throws(PKCS11Error) -> PKCS11TokenHealth {
        var info = kms_p11_token_info()
        try check(kms_p11_token_info_of(self.module.handle, self.slot, &info), "C_GetTokenInfo")
        let state = try self.withSession { session throws(PKCS11Error) -> UInt in
            var state: UInt = 0
            try check(kms_p11_session_state(self.module.handle, session, &state), "C_GetSessionInfo")
            return state
        }
        return PKCS11TokenHealth(info: info, sessionState: state)
    }
}

/// A token's description and login state (C_GetTokenInfo, C_GetSessionInfo).
public struct PKCS11TokenHealth: Sendable, Hashable {
    /// CK_TOKEN_INFO's label, manufacturerID, model and serialNumber, trailing blanks removed.
    public var label: String
    /// The token's manufacturer.
    public var manufacturer: String
    /// The token's model.
    public var model: String
    /// The token's serial number.
    public var serialNumber: String
    /// The user PIN is locked (too many wrong PINs): CKF_USER_PIN_LOCKED.
    public var pinLocked: Bool
    /// A session of this connection is in CKS_RW_USER_FUNCTIONS: logged in as the user.
    public var loggedIn: Bool

    init(info: kms_p11_token_info, sessionState: UInt) {
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { bytes in
                String(decoding: bytes, as: UTF8.self).trimmingTrailing(" ")
            }
        }
        self.label = text(info.label)
        self.manufacturer = text(info.manufacturer)
        self.model = text(info.model)
        self.serialNumber = text(info.serial)
        self.pinLocked = info.flags & PKCS11Constants.userPINLockedFlag != 0
        self.loggedIn = sessionState == PKCS11Constants.rwUserFunctions
    }
}

extension String {
    fileprivate func trimmingTrailing(_ character: Character) -> String {
        var result = self
        while result.last == character || result.last == "\0" { result.removeLast() }
        return result
    }
}

/// The standard's values this module passes through the C layer.
enum PKCS11Constants {
    static let aesKeyGen: UInt = 0x1080
    static let aesGCM: UInt = 0x1087
    static let encryptFlag: UInt = 0x100
    static let decryptFlag: UInt = 0x200
    static let generateFlag: UInt = 0x8000
    static let userPINLockedFlag: UInt = 0x40000
    static let rwUserFunctions: UInt = 3
    static let attributeValue: UInt = 0x11
    static let attributeSensitive: UInt = 0x103
    static let attributeExtractable: UInt = 0x162
    static let attributeNeverExtractable: UInt = 0x164
}
