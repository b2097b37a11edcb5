import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import Testing

/// A creation time no encoder writes, under a valid checksum: refused, where encoding the
/// keyring again trapped (found by fuzzing).
@Suite struct RootKeyringCreationTimeTests {
    @Test(arguments: [Int64.max, Int64.min, (1 << 53) + 1] as [Int64])
    func anImpossibleCreationTimeIsRefused(_ seconds: Int64) {
        let key = RootKey(
            id: RootKeyID(UUID()), createdAt: Date(timeIntervalSince1970: 1_700_000_000),
            key: SymmetricKey(size: .bits256))
        var body = Array(RootKeyringEncoding.encode(RootKeyring(keys: [key])).dropLast(32))
        let offset = 17 + 4 + 16  // magic and version, the key count, the first key's id
        body.replaceSubrange(offset..<(offset + 8), with: withUnsafeBytes(of: seconds.bigEndian, Array.init))
        #expect(throws: KMSError.self) { _ = try RootKeyringEncoding.decode(body + SHA256.hash(data: body)) }
    }
}
