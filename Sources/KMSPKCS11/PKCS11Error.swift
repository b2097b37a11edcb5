/// A failure of the PKCS #11 layer. Every message is built from function names, return value
/// names, paths and labels: never from a PIN or key bytes, so any of them may be logged.
public enum PKCS11Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// A module's function answered other than CKR_OK: `function` is the standard's name ("C_Login").
    case call(function: String, returnValue: PKCS11ReturnValue)
    /// dlopen failed: no such file, not a shared library for this machine, or a missing dependency.
    case moduleNotLoadable(path: String, reason: String)
    /// The library loads but has no C_GetFunctionList, or gives no usable function list.
    case notAPKCS11Module(path: String, reason: String)
    /// No present token has this label.
    case tokenNotFound(label: String)
    /// The token lacks a mechanism this backend needs (AES key generation, AES-GCM).
    case mechanismNotSupported(String)
    /// No secret key on the token has this label.
    case keyNotFound(label: String)
    /// More than one secret key has this label: which one to use is not ours to guess.
    case duplicateKeys(label: String)
    /// Every session is busy and none came back within the wait.
    case noSessionAvailable(waitedSeconds: Int)
    /// The token connection was closed (disconnected, or dropped after a device failure).
    case disconnected

    /// What went wrong, safe to log.
    public var description: String {
        switch self {
        case .call(let function, let returnValue):
            return "\(function) failed with \(returnValue.name)"
        case .moduleNotLoadable(let path, let reason):
            return "the PKCS #11 module \(path) does not load: \(reason)"
        case .notAPKCS11Module(let path, let reason):
            return "\(path) is not a PKCS #11 module: \(reason)"
        case .tokenNotFound(let label):
            return "no token labelled \"\(label)\" is present"
        case .mechanismNotSupported(let mechanism):
            return "the token does not support \(mechanism)"
        case .keyNotFound(let label):
            return "the token holds no key labelled \(label)"
        case .duplicateKeys(let label):
            return "the token holds more than one key labelled \(label)"
        case .noSessionAvailable(let seconds):
            return "no PKCS #11 session came free within \(seconds) s"
        case .disconnected:
            return "the token connection is closed"
        }
    }

    /// The return value, when a module call failed.
    public var returnValue: PKCS11ReturnValue? {
        if case .call(_, let value) = self { return value }
        return nil
    }

    /// True when the failure means the connection itself is gone (device or session lost, login
    /// state dropped): the token must be connected again rather than the call retried on it.
    public var connectionLost: Bool {
        switch self.returnValue {
        case .sessionHandleInvalid?, .sessionClosed?, .deviceError?, .deviceRemoved?, .tokenNotPresent?,
            .tokenNotRecognized?, .userNotLoggedIn?, .cryptokiNotInitialized?:
            return true
        default:
            return self == .disconnected
        }
    }
}

/// Throws `PKCS11Error.call` unless `rv` is CKR_OK.
@inline(__always)
func check(_ rv: UInt, _ function: String) throws(PKCS11Error) {
    guard rv == 0 else { throw .call(function: function, returnValue: PKCS11ReturnValue(rawValue: rv)) }
}
