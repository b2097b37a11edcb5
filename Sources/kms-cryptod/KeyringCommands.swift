import ArgumentParser
import Foundation
import KMSCrypto
import KMSCryptoWorker

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a keyring file (mode 0600) holding one new random 256-bit root key.",
        discussion: "Refuses to overwrite an existing file: losing a root key loses every key wrapped under it."
    )

    @OptionGroup var keyring: KeyringOption

    func run() throws {
        let root = RootKey.generate()
        try RootKeyringFile.create(path: keyring.path, keyring: RootKeyring(keys: [root]))
        print("created root keyring \(keyring.path) with root key \(root.id)")
    }
}

struct RotateRootKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-root-key",
        abstract: "Add a new root key to the keyring; new material is wrapped under it.",
        discussion: """
            Older root keys stay in the keyring so that material wrapped under them still unwraps. \
            Restart kms-cryptod to start using the new key.
            """
    )

    @OptionGroup var keyring: KeyringOption

    func run() throws {
        var ring = try RootKeyringFile.load(path: keyring.path)
        let root = RootKey.generate()
        ring.add(root)
        try RootKeyringFile.replace(path: keyring.path, keyring: ring)
        print("added root key \(root.id); the keyring now holds \(ring.keys.count) root keys")
    }
}

struct ListRootKeys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-root-keys",
        abstract: "List the keyring's root key ids and creation times, newest first (never the keys)."
    )

    @OptionGroup var keyring: KeyringOption

    func run() throws {
        let ring = try RootKeyringFile.load(path: keyring.path)
        let format = ISO8601DateFormatter()
        for (index, root) in ring.keys.reversed().enumerated() {
            print("\(root.id)  \(format.string(from: root.createdAt))\(index == 0 ? "  (newest)" : "")")
        }
    }
}
