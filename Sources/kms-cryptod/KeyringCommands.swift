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
        _ = ProcessHardening.apply(lockMemory: false)
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
            Send kms-cryptod SIGHUP (or restart it) to start using the new key, then re-wrap the \
            stored material under it with `kms admin rewrap`.
            """
    )

    @OptionGroup var keyring: KeyringOption

    func run() throws {
        _ = ProcessHardening.apply(lockMemory: false)
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
        _ = ProcessHardening.apply(lockMemory: false)
        let ring = try RootKeyringFile.load(path: keyring.path)
        let format = ISO8601DateFormatter()
        for (index, root) in ring.keys.reversed().enumerated() {
            print("\(root.id)  \(format.string(from: root.createdAt))\(index == 0 ? "  (newest)" : "")")
        }
    }
}

struct RetireRootKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire-root-key",
        abstract: "Remove an old root key from the keyring (never the newest).",
        discussion: """
            Run `kms admin rewrap --status` first: anything still wrapped under this root key \
            becomes undecryptable (reported as KeyUnavailableException, never silently) until the \
            key is back in the keyring. Send kms-cryptod SIGHUP afterwards.
            """
    )

    @OptionGroup var keyring: KeyringOption
    @Option(help: "The root key id to remove.") var rootKeyId: String

    func run() throws {
        _ = ProcessHardening.apply(lockMemory: false)
        var ring = try RootKeyringFile.load(path: keyring.path)
        let id = try RootKeyID(string: rootKeyId)
        guard ring.remove(id: id) else {
            throw ValidationError("\(rootKeyId) is not a root key of \(keyring.path) other than the newest")
        }
        try RootKeyringFile.replace(path: keyring.path, keyring: ring)
        print("removed root key \(rootKeyId); the keyring now holds \(ring.keys.count) root keys")
    }
}
