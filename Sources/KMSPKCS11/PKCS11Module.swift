import CKMSPKCS11
import Synchronization

/// A PKCS #11 module (a vendor's shared library), loaded and initialized once per process and
/// never unloaded: C_Initialize may run once per process, and many modules do not survive a
/// C_Finalize and a second C_Initialize. Every token connection of one path shares it.
public final class PKCS11Module: Sendable {
    /// The path it was loaded from.
    public let path: String
    // The C layer's handle. Immutable after load; the module itself is thread-safe after
    // C_Initialize with CKF_OS_LOCKING_OK.
    nonisolated(unsafe) let handle: OpaquePointer

    private static let loaded = Mutex<[String: PKCS11Module]>([:])

    private init(path: String, handle: OpaquePointer) {
        self.path = path
        self.handle = handle
    }

    /// The module at `path` (an absolute path), loaded and initialized on first use.
    public static func load(path: String) throws(PKCS11Error) -> PKCS11Module {
        // Under the lock: two first calls must not both dlopen and C_Initialize.
        let result: Result<PKCS11Module, PKCS11Error> = self.loaded.withLock { modules in
            if let module = modules[path] { return .success(module) }
            var handle: OpaquePointer?
            var rv: UInt = 0
            var message = [CChar](repeating: 0, count: 512)
            let status = kms_p11_load(path, &handle, &rv, &message, message.count)
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            switch status {
            case KMS_P11_LOAD_OK:
                break
            case KMS_P11_LOAD_NOT_LOADABLE:
                return .failure(.moduleNotLoadable(path: path, reason: reason))
            case KMS_P11_LOAD_NOT_PKCS11:
                return .failure(.notAPKCS11Module(path: path, reason: "it has no C_GetFunctionList"))
            case KMS_P11_LOAD_OLD_VERSION:
                return .failure(.notAPKCS11Module(path: path, reason: "it implements Cryptoki before version 2"))
            default:
                let name = PKCS11ReturnValue(rawValue: rv).name
                return .failure(.notAPKCS11Module(path: path, reason: "C_GetFunctionList failed with \(name)"))
            }
            guard let handle else { return .failure(.notAPKCS11Module(path: path, reason: "no function list")) }
            let initialized = kms_p11_initialize(handle)
            guard initialized == 0 else {
                kms_p11_unload(handle)
                return .failure(.call(function: "C_Initialize", returnValue: PKCS11ReturnValue(rawValue: initialized)))
            }
            let module = PKCS11Module(path: path, handle: handle)
            modules[path] = module
            return .success(module)
        }
        return try result.get()
    }
}
