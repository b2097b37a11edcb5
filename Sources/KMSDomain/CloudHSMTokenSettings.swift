/// Where an AWS_CLOUDHSM custom key store's keys live here: a PKCS #11 token, named by a module
/// (one of kms-cryptod's `--pkcs11-module NAME=PATH`; empty for its only one) and the token's
/// label, and logged in with the token user's PIN (AWS's KeyStorePassword), held only wrapped by
/// kms-cryptod (bound to the store's id) and never in plaintext.
///
/// AWS's CloudHsmClusterId carries both: `LABEL`, or `MODULE/LABEL` to name the module. The module
/// is a name the operator configured, never a path: API callers cannot make kms-cryptod load a
/// library of their choosing.
public struct CloudHSMTokenSettings: Sendable, Hashable {
    /// The module's name in kms-cryptod's allow-list; empty: its only module.
    public var module: String
    /// The token's label (CK_TOKEN_INFO), 1..32 bytes.
    public var tokenLabel: String
    /// The user PIN, wrapped by kms-cryptod.
    public var wrappedPIN: [UInt8]

    /// Settings from their parts.
    public init(module: String, tokenLabel: String, wrappedPIN: [UInt8]) {
        self.module = module
        self.tokenLabel = tokenLabel
        self.wrappedPIN = wrappedPIN
    }

    /// The CloudHsmClusterId that names this token: `LABEL` or `MODULE/LABEL`.
    public var clusterID: String { self.module.isEmpty ? self.tokenLabel : "\(self.module)/\(self.tokenLabel)" }

    /// Splits a CloudHsmClusterId into module and token label; ValidationException unless the
    /// module is 0..64 of A-Z a-z 0-9 . _ - and the label 1..32 bytes.
    public static func parse(clusterID: String) throws(KMSError) -> (module: String, tokenLabel: String) {
        let (module, label): (String, String)
        if let slash = clusterID.firstIndex(of: "/") {
            (module, label) = (String(clusterID[..<slash]), String(clusterID[clusterID.index(after: slash)...]))
        } else {
            (module, label) = ("", clusterID)
        }
        guard module.utf8.count <= 64,
            module.utf8.allSatisfy({
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                    || [0x2D, 0x2E, 0x5F].contains($0)
            })
        else {
            throw .validation("CloudHsmClusterId's module (before the first /) must be 0..64 of A-Z a-z 0-9 . _ -.")
        }
        guard (1...32).contains(label.utf8.count) else {
            throw .validation(
                "CloudHsmClusterId must name a PKCS #11 token label of 1..32 bytes (LABEL or MODULE/LABEL).")
        }
        return (module, label)
    }

    /// AWS's KeyStorePassword: 7..32 characters; here the token's user PIN, printable ASCII.
    public static func checkPassword(_ password: String) throws(KMSError) {
        guard (7...32).contains(password.count), password.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw .validation("KeyStorePassword must be 7..32 printable ASCII characters.")
        }
    }
}
