import Crypto
import Foundation
import KMSDomain

/// Secret access keys: how they are made and wrapped for the database (KMSRPC's
/// RPCAccessKeyProof is how a client proves it holds one).
///
/// A secret is stored only wrapped under a root key (the material-wrapping format with its own
/// domain), with AAD binding it to its access key id and its principal's ARN: a row edited to
/// hand an access key to another principal (an admin, say) no longer unwraps.
public enum AccessKeySecrets {
    static let version: UInt8 = 1
    static let kind: UInt8 = 0x81
    static let headerLength = 1 + 1 + 16 + 12
    static let tagLength = 16
    static let wrapDomain = Array("kms/wrapped-access-key-secret/v1".utf8)

    /// The alphabet and length of AWS secret access keys: 40 base64 characters (30 random bytes).
    public static func generateSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<30).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        defer { zeroize(&bytes) }
        return Data(bytes).base64EncodedString()
    }

    /// AWS-style access key ids: "AKIA" then 16 characters of [A-Z2-7].
    public static func generateAccessKeyID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var generator = SystemRandomNumberGenerator()
        return "AKIA" + String((0..<16).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// An access key id we accept: 16..128 of [A-Z0-9] (AWS ids and fixture ids alike).
    public static func isValidAccessKeyID(_ id: String) -> Bool {
        (16...128).contains(id.utf8.count)
            && id.utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }
    }

    /// A secret we accept for import: 16..128 printable ASCII characters.
    public static func isValidSecret(_ secret: String) -> Bool {
        (16...128).contains(secret.utf8.count) && secret.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// Wraps `secret` for the database under `root` (the keyring's newest), bound to its access key id and
    /// principal ARN; `withUnwrapped` opens it only with that same pair.
    public static func wrap(secret: String, accessKeyID: String, principalARN: String, under root: RootKey) -> [UInt8] {
        let nonce = AES.GCM.Nonce()
        var header: [UInt8] = [version, kind]
        header.append(contentsOf: root.id.bytes)
        header.append(contentsOf: nonce)
        let aad = additionalData(header: header, accessKeyID: accessKeyID, principalARN: principalARN)
        var plaintext = Array(secret.utf8)
        defer { zeroize(&plaintext) }
        let sealed = try! AES.GCM.seal(plaintext, using: root.key, nonce: nonce, authenticating: aad)
        return header + sealed.ciphertext + sealed.tag
    }

    /// The secret's bytes, for as long as `body` runs; zeroed afterwards.
    /// Throws KeyUnavailableException when the keyring lacks the root key, and
    /// KMSInternalException when the blob is not this access key's of this principal.
    public static func withUnwrapped<T>(
        _ wrapped: [UInt8], accessKeyID: String, principalARN: String, keyring: RootKeyring,
        _ body: ([UInt8]) throws(KMSError) -> T
    ) throws(KMSError) -> T {
        guard wrapped.count > headerLength + tagLength, wrapped[0] == version, wrapped[1] == kind else {
            throw .internalFailure("a stored access key secret is not in a known format", retryable: false)
        }
        let rootID = RootKeyID(bytes: wrapped[2..<18])
        guard let root = keyring.key(id: rootID) else {
            throw KMSError(
                .keyUnavailable,
                "the access key secret is wrapped under root key \(rootID), which this worker's keyring does not hold")
        }
        let aad = additionalData(
            header: Array(wrapped[..<headerLength]), accessKeyID: accessKeyID, principalARN: principalARN)
        var plaintext: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: wrapped[18..<headerLength]),
                ciphertext: wrapped[headerLength..<(wrapped.count - tagLength)],
                tag: wrapped[(wrapped.count - tagLength)...]
            )
            plaintext = Array(try AES.GCM.open(box, using: root.key, authenticating: aad))
        } catch {
            throw .internalFailure(
                "a stored access key secret does not authenticate for its key id and principal", retryable: false)
        }
        defer { zeroize(&plaintext) }
        return try body(plaintext)
    }

    /// The root key a wrapped secret names, without unwrapping it.
    public static func rootKeyID(of wrapped: [UInt8]) -> RootKeyID? {
        guard wrapped.count > headerLength + tagLength, wrapped[0] == version, wrapped[1] == kind else { return nil }
        return RootKeyID(bytes: wrapped[2..<18])
    }

    static func additionalData(header: [UInt8], accessKeyID: String, principalARN: String) -> [UInt8] {
        let id = Array(accessKeyID.utf8)
        let arn = Array(principalARN.utf8)
        var aad = wrapDomain
        aad.append(contentsOf: header)
        aad.appendBigEndian(UInt32(id.count))
        aad.append(contentsOf: id)
        aad.appendBigEndian(UInt32(arn.count))
        aad.append(contentsOf: arn)
        return aad
    }
}
