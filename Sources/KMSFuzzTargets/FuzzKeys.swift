import Crypto
import Foundation
import KMSCrypto
import KMSDomain

/// Fixed, public keys for the targets that open what they parse: the seed corpus is sealed
/// under them, so that the fuzzer starts from inputs that authenticate and explores the code
/// after authentication too. Test values only; nothing here protects anything.
enum FuzzKeys {
    static let keyID = KeyID(UUID(uuidString: "0B9B1BD8-5A6B-4D3C-9D33-1F7F7E3A5E11")!)
    static let otherKeyID = KeyID(UUID(uuidString: "1B9B1BD8-5A6B-4D3C-9D33-1F7F7E3A5E11")!)
    static let keyARN = "arn:aws:kms:us-east-1:111122223333:key/0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11"
    static let materialID = try! MaterialID(bytes: [UInt8](repeating: 0x4D, count: MaterialID.byteCount))
    static let material = SymmetricKey(data: [UInt8](repeating: 0x4B, count: 32))

    /// Two root keys, as after one rotation: blobs under either must unwrap.
    static let rootKeys = [
        RootKey(
            id: RootKeyID(UUID(uuidString: "2C9B1BD8-5A6B-4D3C-9D33-1F7F7E3A5E11")!),
            createdAt: Date(timeIntervalSince1970: 1_700_000_000),
            key: SymmetricKey(data: [UInt8](repeating: 0x52, count: 32))
        ),
        RootKey(
            id: RootKeyID(UUID(uuidString: "3C9B1BD8-5A6B-4D3C-9D33-1F7F7E3A5E11")!),
            createdAt: Date(timeIntervalSince1970: 1_750_000_000),
            key: SymmetricKey(data: [UInt8](repeating: 0x53, count: 32))
        ),
    ]
    static let keyring = RootKeyring(keys: rootKeys)
    /// A root key the keyring does not hold.
    static let retiredRoot = RootKey(
        id: RootKeyID(UUID(uuidString: "4C9B1BD8-5A6B-4D3C-9D33-1F7F7E3A5E11")!),
        createdAt: Date(timeIntervalSince1970: 1_600_000_000),
        key: SymmetricKey(data: [UInt8](repeating: 0x54, count: 32))
    )

    /// The clock of the import token target.
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func uuidBytes(_ uuid: UUID) -> [UInt8] {
        withUnsafeBytes(of: uuid.uuid) { Array($0) }
    }
}
