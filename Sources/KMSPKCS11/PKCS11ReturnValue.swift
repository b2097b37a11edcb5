/// A PKCS #11 return value (CK_RV) with its standard name, for errors and logs: "CKR_PIN_INCORRECT"
/// says what went wrong where "0xa0" does not.
public struct PKCS11ReturnValue: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The module's CK_RV.
    public let rawValue: UInt

    /// The value `rawValue`.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// The standard's name (PKCS #11 v2.40 section 3.6), "CKR_VENDOR_DEFINED+0x..." for a vendor's
    /// own values, "CKR_0x..." for values the standard does not define.
    public var name: String {
        if let name = Self.names[self.rawValue] { return name }
        if self.rawValue >= 0x8000_0000 {
            return "CKR_VENDOR_DEFINED+0x" + String(self.rawValue - 0x8000_0000, radix: 16)
        }
        return "CKR_0x" + String(self.rawValue, radix: 16)
    }

    /// The same as `name`.
    public var description: String { self.name }

    /// CKR_OK.
    public static let ok = PKCS11ReturnValue(rawValue: 0x0)
    /// CKR_HOST_MEMORY.
    public static let hostMemory = PKCS11ReturnValue(rawValue: 0x2)
    /// CKR_GENERAL_ERROR.
    public static let generalError = PKCS11ReturnValue(rawValue: 0x5)
    /// CKR_FUNCTION_FAILED.
    public static let functionFailed = PKCS11ReturnValue(rawValue: 0x6)
    /// CKR_ATTRIBUTE_SENSITIVE.
    public static let attributeSensitive = PKCS11ReturnValue(rawValue: 0x11)
    /// CKR_DEVICE_ERROR.
    public static let deviceError = PKCS11ReturnValue(rawValue: 0x30)
    /// CKR_DEVICE_MEMORY.
    public static let deviceMemory = PKCS11ReturnValue(rawValue: 0x31)
    /// CKR_DEVICE_REMOVED.
    public static let deviceRemoved = PKCS11ReturnValue(rawValue: 0x32)
    /// CKR_ENCRYPTED_DATA_INVALID.
    public static let encryptedDataInvalid = PKCS11ReturnValue(rawValue: 0x40)
    /// CKR_ENCRYPTED_DATA_LEN_RANGE.
    public static let encryptedDataLengthRange = PKCS11ReturnValue(rawValue: 0x41)
    /// CKR_KEY_HANDLE_INVALID.
    public static let keyHandleInvalid = PKCS11ReturnValue(rawValue: 0x60)
    /// CKR_MECHANISM_INVALID.
    public static let mechanismInvalid = PKCS11ReturnValue(rawValue: 0x70)
    /// CKR_MECHANISM_PARAM_INVALID.
    public static let mechanismParameterInvalid = PKCS11ReturnValue(rawValue: 0x71)
    /// CKR_OBJECT_HANDLE_INVALID.
    public static let objectHandleInvalid = PKCS11ReturnValue(rawValue: 0x82)
    /// CKR_PIN_INCORRECT.
    public static let pinIncorrect = PKCS11ReturnValue(rawValue: 0xa0)
    /// CKR_PIN_INVALID.
    public static let pinInvalid = PKCS11ReturnValue(rawValue: 0xa1)
    /// CKR_PIN_LEN_RANGE.
    public static let pinLengthRange = PKCS11ReturnValue(rawValue: 0xa2)
    /// CKR_PIN_EXPIRED.
    public static let pinExpired = PKCS11ReturnValue(rawValue: 0xa3)
    /// CKR_PIN_LOCKED.
    public static let pinLocked = PKCS11ReturnValue(rawValue: 0xa4)
    /// CKR_SESSION_CLOSED.
    public static let sessionClosed = PKCS11ReturnValue(rawValue: 0xb0)
    /// CKR_SESSION_COUNT.
    public static let sessionCount = PKCS11ReturnValue(rawValue: 0xb1)
    /// CKR_SESSION_HANDLE_INVALID.
    public static let sessionHandleInvalid = PKCS11ReturnValue(rawValue: 0xb3)
    /// CKR_TOKEN_NOT_PRESENT.
    public static let tokenNotPresent = PKCS11ReturnValue(rawValue: 0xe0)
    /// CKR_TOKEN_NOT_RECOGNIZED.
    public static let tokenNotRecognized = PKCS11ReturnValue(rawValue: 0xe1)
    /// CKR_USER_ALREADY_LOGGED_IN.
    public static let userAlreadyLoggedIn = PKCS11ReturnValue(rawValue: 0x100)
    /// CKR_USER_NOT_LOGGED_IN.
    public static let userNotLoggedIn = PKCS11ReturnValue(rawValue: 0x101)
    /// CKR_USER_PIN_NOT_INITIALIZED.
    public static let userPINNotInitialized = PKCS11ReturnValue(rawValue: 0x102)
    /// CKR_USER_ANOTHER_ALREADY_LOGGED_IN.
    public static let userAnotherAlreadyLoggedIn = PKCS11ReturnValue(rawValue: 0x104)
    /// CKR_CRYPTOKI_NOT_INITIALIZED.
    public static let cryptokiNotInitialized = PKCS11ReturnValue(rawValue: 0x190)

    static let names: [UInt: String] = [
        0x0: "CKR_OK",
        0x1: "CKR_CANCEL",
        0x2: "CKR_HOST_MEMORY",
        0x3: "CKR_SLOT_ID_INVALID",
        0x5: "CKR_GENERAL_ERROR",
        0x6: "CKR_FUNCTION_FAILED",
        0x7: "CKR_ARGUMENTS_BAD",
        0x8: "CKR_NO_EVENT",
        0x9: "CKR_NEED_TO_CREATE_THREADS",
        0xa: "CKR_CANT_LOCK",
        0x10: "CKR_ATTRIBUTE_READ_ONLY",
        0x11: "CKR_ATTRIBUTE_SENSITIVE",
        0x12: "CKR_ATTRIBUTE_TYPE_INVALID",
        0x13: "CKR_ATTRIBUTE_VALUE_INVALID",
        0x1b: "CKR_ACTION_PROHIBITED",
        0x20: "CKR_DATA_INVALID",
        0x21: "CKR_DATA_LEN_RANGE",
        0x30: "CKR_DEVICE_ERROR",
        0x31: "CKR_DEVICE_MEMORY",
        0x32: "CKR_DEVICE_REMOVED",
        0x40: "CKR_ENCRYPTED_DATA_INVALID",
        0x41: "CKR_ENCRYPTED_DATA_LEN_RANGE",
        0x50: "CKR_FUNCTION_CANCELED",
        0x51: "CKR_FUNCTION_NOT_PARALLEL",
        0x54: "CKR_FUNCTION_NOT_SUPPORTED",
        0x60: "CKR_KEY_HANDLE_INVALID",
        0x62: "CKR_KEY_SIZE_RANGE",
        0x63: "CKR_KEY_TYPE_INCONSISTENT",
        0x64: "CKR_KEY_NOT_NEEDED",
        0x65: "CKR_KEY_CHANGED",
        0x66: "CKR_KEY_NEEDED",
        0x67: "CKR_KEY_INDIGESTIBLE",
        0x68: "CKR_KEY_FUNCTION_NOT_PERMITTED",
        0x69: "CKR_KEY_NOT_WRAPPABLE",
        0x6a: "CKR_KEY_UNEXTRACTABLE",
        0x70: "CKR_MECHANISM_INVALID",
        0x71: "CKR_MECHANISM_PARAM_INVALID",
        0x82: "CKR_OBJECT_HANDLE_INVALID",
        0x90: "CKR_OPERATION_ACTIVE",
        0x91: "CKR_OPERATION_NOT_INITIALIZED",
        0xa0: "CKR_PIN_INCORRECT",
        0xa1: "CKR_PIN_INVALID",
        0xa2: "CKR_PIN_LEN_RANGE",
        0xa3: "CKR_PIN_EXPIRED",
        0xa4: "CKR_PIN_LOCKED",
        0xb0: "CKR_SESSION_CLOSED",
        0xb1: "CKR_SESSION_COUNT",
        0xb3: "CKR_SESSION_HANDLE_INVALID",
        0xb4: "CKR_SESSION_PARALLEL_NOT_SUPPORTED",
        0xb5: "CKR_SESSION_READ_ONLY",
        0xb6: "CKR_SESSION_EXISTS",
        0xb7: "CKR_SESSION_READ_ONLY_EXISTS",
        0xb8: "CKR_SESSION_READ_WRITE_SO_EXISTS",
        0xc0: "CKR_SIGNATURE_INVALID",
        0xc1: "CKR_SIGNATURE_LEN_RANGE",
        0xd0: "CKR_TEMPLATE_INCOMPLETE",
        0xd1: "CKR_TEMPLATE_INCONSISTENT",
        0xe0: "CKR_TOKEN_NOT_PRESENT",
        0xe1: "CKR_TOKEN_NOT_RECOGNIZED",
        0xe2: "CKR_TOKEN_WRITE_PROTECTED",
        0xf1: "CKR_UNWRAPPING_KEY_SIZE_RANGE",
        0xf2: "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT",
        0x100: "CKR_USER_ALREADY_LOGGED_IN",
        0x101: "CKR_USER_NOT_LOGGED_IN",
        0x102: "CKR_USER_PIN_NOT_INITIALIZED",
        0x103: "CKR_USER_TYPE_INVALID",
        0x104: "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
        0x105: "CKR_USER_TOO_MANY_TYPES",
        0x110: "CKR_WRAPPED_KEY_INVALID",
        0x112: "CKR_WRAPPED_KEY_LEN_RANGE",
        0x113: "CKR_WRAPPING_KEY_HANDLE_INVALID",
        0x114: "CKR_WRAPPING_KEY_SIZE_RANGE",
        0x115: "CKR_WRAPPING_KEY_TYPE_INCONSISTENT",
        0x120: "CKR_RANDOM_SEED_NOT_SUPPORTED",
        0x121: "CKR_RANDOM_NO_RNG",
        0x130: "CKR_DOMAIN_PARAMS_INVALID",
        0x140: "CKR_CURVE_NOT_SUPPORTED",
        0x150: "CKR_BUFFER_TOO_SMALL",
        0x160: "CKR_SAVED_STATE_INVALID",
        0x170: "CKR_INFORMATION_SENSITIVE",
        0x180: "CKR_STATE_UNSAVEABLE",
        0x190: "CKR_CRYPTOKI_NOT_INITIALIZED",
        0x191: "CKR_CRYPTOKI_ALREADY_INITIALIZED",
        0x1a0: "CKR_MUTEX_BAD",
        0x1a1: "CKR_MUTEX_NOT_LOCKED",
        0x1b0: "CKR_NEW_PIN_MODE",
        0x1b1: "CKR_NEXT_OTP",
        0x1c0: "CKR_EXCEEDED_MAX_ITERATIONS",
        0x1c1: "CKR_FIPS_SELF_TEST_FAILED",
        0x1c2: "CKR_LIBRARY_LOAD_FAILED",
        0x1c3: "CKR_PIN_TOO_WEAK",
        0x1c4: "CKR_PUBLIC_KEY_INVALID",
        0x200: "CKR_FUNCTION_REJECTED",
    ]
}
