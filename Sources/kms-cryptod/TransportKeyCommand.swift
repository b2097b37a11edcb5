import ArgumentParser
import Foundation
import KMSCrypto
import KMSCryptoWorker

struct TransportKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport-key",
        abstract: "Print this keyring's transport public key (base64 DER), for a peer deployment's --peer-region.",
        discussion: """
            Multi-Region keys replicated to this deployment from another arrive sealed for this \
            key; its private half is derived from the active root key and never leaves kms-cryptod. \
            After a root key rotation, give the sending deployments the new one (material sealed \
            for the old one still opens while the keyring holds the old root key).
            """
    )

    @OptionGroup var keyring: KeyringOption

    func run() throws {
        _ = ProcessHardening.apply(lockMemory: false)
        let ring = try RootKeyringFile.load(path: keyring.path)
        print(Data(MaterialTransport.transportPublicKeyDER(of: ring.active)).base64EncodedString())
    }
}
