import Crypto
import Foundation
import KMSRPC
import Testing

/// The bootstrap's sealed credentials: open with the right private key only, never after any
/// change to the block, and found among the lines of a log.
@Suite struct SealedCredentialsTests {
    static let text = "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s3cr3t\n"

    @Test func opensWithItsKeyAmongOtherLogLines() throws {
        let key = P256.KeyAgreement.PrivateKey()
        let sealed = try SealedCredentials.seal(Self.text, toPublicKeyPEM: key.publicKey.pemRepresentation)
        #expect(!sealed.contains("s3cr3t") && !sealed.contains("AKIAEXAMPLE"))
        let log = "2026-12-05 notice applied migration\n# arn: sealed\n" + sealed + "done\n"
        #expect(try SealedCredentials.open(log, privateKeyPEM: key.pemRepresentation) == Self.text)
        // Sealed twice, two different blocks (a fresh ephemeral key each time).
        #expect(try SealedCredentials.seal(Self.text, toPublicKeyPEM: key.publicKey.pemRepresentation) != sealed)
    }

    @Test func anotherKeyOrAnyChangeOpensNothing() throws {
        let key = P256.KeyAgreement.PrivateKey()
        let sealed = try SealedCredentials.seal(Self.text, toPublicKeyPEM: key.publicKey.pemRepresentation)
        let other = P256.KeyAgreement.PrivateKey()
        #expect(throws: SealedCredentials.Failure.self) {
            try SealedCredentials.open(sealed, privateKeyPEM: other.pemRepresentation)
        }
        // Flip each base64 character of the body in turn (to another valid one): never opens. A
        // flip in the padding bits of a final character leaves the bytes as they were (the
        // random ciphertext sometimes ends that way): those are no damage and are skipped.
        var lines = sealed.split(separator: "\n").map(String.init)
        func bytes(_ lines: [String]) -> Data? { Data(base64Encoded: lines.dropFirst().dropLast().joined()) }
        for line in 1..<(lines.count - 1) {
            for index in stride(from: 0, to: lines[line].count, by: 7) {
                var chars = Array(lines[line])
                chars[index] = chars[index] == "A" ? "B" : "A"
                var damaged = lines
                damaged[line] = String(chars)
                guard bytes(damaged) != bytes(lines) else { continue }
                #expect(throws: SealedCredentials.Failure.self) {
                    try SealedCredentials.open(damaged.joined(separator: "\n"), privateKeyPEM: key.pemRepresentation)
                }
            }
        }
        lines.removeLast()
        #expect(throws: SealedCredentials.Failure.self) {
            try SealedCredentials.open(lines.joined(separator: "\n"), privateKeyPEM: key.pemRepresentation)
        }
        #expect(throws: SealedCredentials.Failure.self) {
            try SealedCredentials.seal(Self.text, toPublicKeyPEM: "not a key")
        }
    }
}
