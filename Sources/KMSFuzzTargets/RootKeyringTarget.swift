import Crypto
import KMSCrypto
import KMSDomain

/// The root keyring file that kms-cryptod loads at start.
///
/// Input: one byte (bit 0: append the file's SHA-256 checksum, so that the fuzzer reaches the
/// parsing behind it), then the file's bytes. Decoding refuses with ValidationException or gives
/// a keyring that encodes back to exactly the file's bytes.
enum RootKeyringTarget {
    static let target = FuzzTarget(name: "root-keyring", run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let withChecksum = input.byte() & 1 == 1
        var file = input.rest()
        if withChecksum { file += SHA256.hash(data: file) }
        let keyring: RootKeyring
        do {
            keyring = try RootKeyringEncoding.decode(file)
        } catch {
            require(error.code == .validation, "decode threw \(error.code), not ValidationException")
            return
        }
        require(!keyring.keys.isEmpty, "a keyring decoded without keys")
        require(RootKeyringEncoding.encode(keyring) == file, "the keyring does not encode back to the file's bytes")
    }

    static func seeds() -> [[UInt8]] {
        let file = RootKeyringEncoding.encode(FuzzKeys.keyring)
        let one = RootKeyringEncoding.encode(RootKeyring(keys: [FuzzKeys.retiredRoot]))
        return [
            [0] + file,
            [1] + file.dropLast(32),
            [1] + one.dropLast(32),
            [0] + file.dropLast(1),
        ]
    }
}
