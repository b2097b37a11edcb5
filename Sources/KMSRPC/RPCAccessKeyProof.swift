import Crypto
import Foundation

/// The answer to a connection's challenge (`Authenticate.proof` in envelope.proto): HMAC-SHA256
/// keyed with the secret access key over the domain, the server's nonce and the access key id,
/// each length-prefixed, so no two inputs share an encoding. The client makes it and kms-cryptod
/// checks it against the unwrapped secret, both with this one definition, which needs nothing
/// but swift-crypto (the client links no OpenSSL).
public enum RPCAccessKeyProof {
    static let domain = Array("kms-rpc-auth-v1".utf8)

    /// The handshake answer under `secret`.
    public static func proof(secret: some ContiguousBytes, nonce: [UInt8], accessKeyID: String) -> [UInt8] {
        Array(
            HMAC<SHA256>.authenticationCode(
                for: message(nonce: nonce, accessKeyID: accessKeyID), using: SymmetricKey(data: secret)
            ))
    }

    /// Checks a proof in constant time (HMAC's own comparison).
    public static func verify(proof: [UInt8], secret: [UInt8], nonce: [UInt8], accessKeyID: String) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(
            proof, authenticating: message(nonce: nonce, accessKeyID: accessKeyID), using: SymmetricKey(data: secret)
        )
    }

    static func message(nonce: [UInt8], accessKeyID: String) -> [UInt8] {
        let id = Array(accessKeyID.utf8)
        var message = domain
        message.appendBigEndian(UInt32(nonce.count))
        message.append(contentsOf: nonce)
        message.appendBigEndian(UInt32(id.count))
        message.append(contentsOf: id)
        return message
    }
}

extension Array where Element == UInt8 {
    fileprivate mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { self.append(contentsOf: $0) }
    }
}
