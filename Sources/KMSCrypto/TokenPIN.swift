import Crypto
import KMSDomain

/// The PIN of a PKCS #11 token (an AWS_CLOUDHSM custom key store's KeyStorePassword), as the
/// database holds it: wrapped under a root key like an access key secret, in a format of its own
/// (its own kind byte and AAD domain), bound to its custom key store's id. A wrapped PIN copied
/// to another store's row does not unwrap there.
///
///     version (1) | kind 0x82 (1) | root key id (16) | nonce (12) | ciphertext | tag (16)
public enum TokenPIN {
    static let version: UInt8 = 1
    static let kind: UInt8 = 0x82
    static let headerLength = 1 + 1 + 16 + 12
    static let tagLength = 16
    static let domain = Array("kms/wrapped-token-pin/v1".utf8)
    /// The longest PIN accepted, in bytes (AWS's KeyStorePassword: 7..32 characters; PKCS #11
    /// modules vary, so this only bounds it).
    public static let maximumBytes = 128

    /// A PIN we accept: 1..128 bytes of printable ASCII.
    public static func isValid(_ pin: String) -> Bool {
        (1...maximumBytes).contains(pin.utf8.count) && pin.utf8.allSatisfy { (0x20...0x7E).contains($0) }
    }

    /// Wraps `pin` under `root`, bound to `customKeyStoreID`.
    public static func wrap(_ pin: [UInt8], customKeyStoreID: String, under root: RootKey) -> [UInt8] {
        let nonce = AES.GCM.Nonce()
        var header: [UInt8] = [version, kind]
        header.append(contentsOf: root.id.bytes)
        header.append(contentsOf: nonce)
        let aad = additionalData(header: header, customKeyStoreID: customKeyStoreID)
        let sealed = try! AES.GCM.seal(pin, using: root.key, nonce: nonce, authenticating: aad)
        return header + sealed.ciphertext + sealed.tag
    }

    /// The PIN's bytes for as long as `body` runs; zeroed afterwards. Throws KeyUnavailableException
    /// when the keyring lacks the root key, KMSInternalException when the blob is not this store's.
    public static func withUnwrapped<T>(
        _ wrapped: [UInt8], customKeyStoreID: String, keyring: RootKeyring, _ body: ([UInt8]) throws(KMSError) -> T
    ) throws(KMSError) -> T {
        guard let rootID = self.rootKeyID(of: wrapped) else {
            throw .internalFailure("a stored token PIN is not in a known format", retryable: false)
        }
        guard let root = keyring.key(id: rootID) else {
            throw KMSError(
                .keyUnavailable,
                "the token PIN is wrapped under root key \(rootID), which this worker's keyring does not hold")
        }
        let aad = additionalData(header: Array(wrapped[..<headerLength]), customKeyStoreID: customKeyStoreID)
        var pin: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: wrapped[18..<headerLength]),
                ciphertext: wrapped[headerLength..<(wrapped.count - tagLength)],
                tag: wrapped[(wrapped.count - tagLength)...]
            )
            pin = Array(try AES.GCM.open(box, using: root.key, authenticating: aad))
        } catch {
            throw .internalFailure(
                "a stored token PIN does not authenticate for its custom key store", retryable: false)
        }
        defer { zeroize(&pin) }
        return try body(pin)
    }

    /// The root key a wrapped PIN names, without unwrapping it; nil for a blob of another format.
    public static func rootKeyID(of wrapped: [UInt8]) -> RootKeyID? {
        guard wrapped.count > headerLength + tagLength, wrapped[0] == version, wrapped[1] == kind else { return nil }
        return RootKeyID(bytes: wrapped[2..<18])
    }

    static func additionalData(header: [UInt8], customKeyStoreID: String) -> [UInt8] {
        let id = Array(customKeyStoreID.utf8)
        var aad = domain
        aad.append(contentsOf: header)
        aad.appendBigEndian(UInt32(id.count))
        aad.append(contentsOf: id)
        return aad
    }
}
