import ArgumentParser
import Crypto
import Foundation
import KMSRPC

/// `kms admin create-seal-key`: a P-256 key pair for `kmsd bootstrap --seal-to`, so that the
/// first admin's secret appears in logs only sealed.
struct CreateSealKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-seal-key",
        abstract: "Make a key pair to receive kmsd bootstrap's sealed credentials.",
        discussion: """
            Writes the private key (PEM, mode 0600; keep it where the operator is, never in the \
            cluster) and the public key (PEM, for kmsd bootstrap --seal-to). openssl makes the same \
            keys: openssl ecparam -name prime256v1 -genkey -noout; openssl ec -pubout.
            """)

    @Option(help: "Where to write the private key (created, mode 0600; refused if it exists).")
    var privateKeyOut: String
    @Option(help: "Where to write the public key.")
    var publicKeyOut: String

    func run() throws {
        let key = P256.KeyAgreement.PrivateKey()
        // O_EXCL: an existing private key (perhaps the one a sealed log needs) is never overwritten.
        let fd = open(self.privateKeyOut, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw ValidationError(
                errno == EEXIST
                    ? "\(self.privateKeyOut) exists; not replaced"
                    : "cannot create \(self.privateKeyOut): errno \(errno)")
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        handle.write(Data((key.pemRepresentation + "\n").utf8))
        try handle.close()
        try (key.publicKey.pemRepresentation + "\n").write(toFile: self.publicKeyOut, atomically: true, encoding: .utf8)
        print("wrote \(self.privateKeyOut) (private, 0600) and \(self.publicKeyOut) (public)")
    }
}

/// `kms admin open-sealed-credentials`: the credentials `kmsd bootstrap --seal-to` printed,
/// opened with the private key; reads the log (or any text holding the block) on stdin.
struct OpenSealedCredentials: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open-sealed-credentials",
        abstract: "Open the credentials kmsd bootstrap sealed (read from stdin) with the private key.",
        discussion: """
            kubectl -n kms logs job/kmsd-bootstrap -c bootstrap | kms admin open-sealed-credentials \
            --private-key op.pem > kms-admin.credentials
            """)

    @Option(help: "The private key create-seal-key wrote (PEM).")
    var privateKey: String

    func run() throws {
        let pem = try String(contentsOfFile: self.privateKey, encoding: .utf8)
        let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        do {
            print(try SealedCredentials.open(input, privateKeyPEM: pem), terminator: "")
        } catch {
            throw ValidationError(error.description)
        }
    }
}
