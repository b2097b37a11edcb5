import Crypto
import Foundation

/// An access key sealed to an operator's public key (HPKE, RFC 9180: DHKEM(P-256, HKDF-SHA256),
/// HKDF-SHA256, AES-256-GCM), so that `kmsd bootstrap` can print the first admin's secret where
/// logs are kept (a Kubernetes Job's log) and only the holder of the private key reads it. The
/// armored form:
///
///     -----BEGIN KMS SEALED CREDENTIALS-----
///     base64(version 0x01 || encapsulated key (65 bytes) || ciphertext)
///     -----END KMS SEALED CREDENTIALS-----
///
/// The keys are ordinary P-256 PEM files (`openssl ecparam -name prime256v1 -genkey -noout`,
/// `openssl ec -pubout`, or `kms admin create-seal-key`).
public enum SealedCredentials {
    static let header = "-----BEGIN KMS SEALED CREDENTIALS-----"
    static let footer = "-----END KMS SEALED CREDENTIALS-----"
    static let version: UInt8 = 1
    static let suite = HPKE.Ciphersuite.P256_SHA256_AES_GCM_256
    /// Binds the sealed text to its purpose: a key pair used for something else opens nothing here.
    static let info = Data("kms bootstrap credentials v1".utf8)

    /// A sealing failure, without the sealed text.
    public struct Failure: Error, CustomStringConvertible {
        /// What is wrong.
        public let description: String
    }

    /// `text` sealed to the P-256 public key in `publicKeyPEM`, armored.
    public static func seal(_ text: String, toPublicKeyPEM publicKeyPEM: String) throws(Failure) -> String {
        let recipient: P256.KeyAgreement.PublicKey
        do {
            recipient = try P256.KeyAgreement.PublicKey(pemRepresentation: publicKeyPEM)
        } catch {
            throw Failure(description: "the recipient key is not a P-256 public key in PEM (\(error))")
        }
        do {
            var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: Self.suite, info: Self.info)
            let ciphertext = try sender.seal(Data(text.utf8))
            let blob = Data([Self.version]) + sender.encapsulatedKey + ciphertext
            let lines = blob.base64EncodedString().chunked(64)
            return ([Self.header] + lines + [Self.footer]).joined(separator: "\n") + "\n"
        } catch {
            throw Failure(description: "sealing failed: \(error)")
        }
    }

    /// The text sealed in the first armored block of `armored` (other lines, such as log lines
    /// around it, are ignored), opened with the P-256 private key in `privateKeyPEM`.
    public static func open(_ armored: String, privateKeyPEM: String) throws(Failure) -> String {
        let key: P256.KeyAgreement.PrivateKey
        do {
            key = try P256.KeyAgreement.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            throw Failure(description: "the private key is not a P-256 private key in PEM (\(error))")
        }
        let lines = armored.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let start = lines.firstIndex(of: Self.header),
            let end = lines[start...].firstIndex(of: Self.footer)
        else { throw Failure(description: "no KMS SEALED CREDENTIALS block in the input") }
        guard let blob = Data(base64Encoded: lines[(start + 1)..<end].joined()), blob.count > 66,
            blob[blob.startIndex] == Self.version
        else { throw Failure(description: "the sealed block is damaged or of an unknown version") }
        let encapsulated = blob.dropFirst().prefix(65)
        let ciphertext = blob.dropFirst(66)
        do {
            var recipient = try HPKE.Recipient(
                privateKey: key, ciphersuite: Self.suite, info: Self.info, encapsulatedKey: Data(encapsulated))
            let plain = try recipient.open(Data(ciphertext))
            guard let text = String(data: plain, encoding: .utf8) else { throw Failure(description: "not text") }
            return text
        } catch {
            throw Failure(description: "the sealed block does not open with this private key (or was altered)")
        }
    }
}

extension String {
    fileprivate func chunked(_ size: Int) -> [String] {
        var out: [String] = []
        var rest = Substring(self)
        while !rest.isEmpty {
            out.append(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return out
    }
}
