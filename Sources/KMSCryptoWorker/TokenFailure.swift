import KMSDomain
import KMSPKCS11

/// How PKCS #11 failures reach kmsd: a KMSError with the name AWS gives the like failure of a
/// CloudHSM key store, and a message naming the PKCS #11 function and return value (never a PIN:
/// PKCS11Error is built from names, labels and paths only).
enum TokenFailure {
    static func map(_ error: PKCS11Error) -> KMSError {
        switch error {
        case .moduleNotLoadable, .notAPKCS11Module, .mechanismNotSupported:
            return KMSError(.cloudHsmClusterInvalidConfiguration, "\(error)")
        case .tokenNotFound:
            return KMSError(.cloudHsmClusterNotFound, "\(error)")
        case .keyNotFound:
            // The token key of this material was destroyed, or the store points at another token.
            return KMSError(.invalidState, "\(error)")
        case .duplicateKeys:
            return .internalFailure("\(error)", retryable: false)
        case .noSessionAvailable:
            return KMSError(.cloudHsmClusterNotActive, "\(error)", retryable: true)
        case .disconnected:
            return KMSError(.cloudHsmClusterNotActive, "\(error)", retryable: true)
        case .call(let function, let value):
            if function == "C_Login" {
                return KMSError(.customKeyStoreInvalidState, "the token refused the login: \(error)")
            }
            if error.connectionLost {
                return KMSError(.cloudHsmClusterNotActive, "the token is not reachable: \(error)", retryable: true)
            }
            // The standard says CKR_ENCRYPTED_DATA_INVALID for a tag that does not verify; SoftHSM2
            // (2.6) answers CKR_GENERAL_ERROR, and other modules CKR_FUNCTION_FAILED. A token that
            // is really failing says so with CKR_DEVICE_ERROR and its like (connectionLost, above).
            let authenticationFailures: [PKCS11ReturnValue] = [
                .encryptedDataInvalid, .encryptedDataLengthRange, .generalError, .functionFailed,
            ]
            if function == "C_Decrypt", authenticationFailures.contains(value) {
                return .invalidCiphertext("the ciphertext or its encryption context is not valid")
            }
            return .internalFailure("the token failed: \(error)")
        }
    }

    /// AWS's ConnectionErrorCode (DescribeCustomKeyStores) for a failed connect.
    static func connectionErrorCode(_ error: KMSError, cause: PKCS11Error?) -> String {
        if let value = cause?.returnValue {
            switch value {
            case .pinIncorrect, .pinInvalid, .pinLengthRange, .pinExpired: return "INVALID_CREDENTIALS"
            case .pinLocked: return "USER_LOCKED_OUT"
            case .userPINNotInitialized: return "USER_NOT_FOUND"
            case .userAlreadyLoggedIn, .userAnotherAlreadyLoggedIn: return "USER_LOGGED_IN"
            default: break
            }
        }
        switch error.code {
        case .cloudHsmClusterNotFound: return "CLUSTER_NOT_FOUND"
        case .cloudHsmClusterNotActive: return "NETWORK_ERRORS"
        case .cloudHsmClusterInUse: return "USER_LOGGED_IN"
        default: return "INTERNAL_ERROR"
        }
    }
}
