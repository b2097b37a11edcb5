import Foundation
import KMSDomain

/// A root key's id (a UUID), in the 16-byte form that wrapped blobs carry. Not a KMS key id
/// (`KeyID`): root keys are the worker keyring's own, and no request names one as a KMS key.
public struct RootKeyID: Sendable, Hashable, CustomStringConvertible {
    /// The root key id; `description` is its lowercase text form.
    public let uuid: UUID

    /// The identifier of `uuid`.
    public init(_ uuid: UUID) {
        self.uuid = uuid
    }

    /// Parses the canonical lowercase or uppercase UUID text form.
    public init(string: String) throws(KMSError) {
        guard let uuid = UUID(uuidString: string) else {
            // The words of the message are those the worker has always answered.
            throw .validation("'\(string.prefix(64))' is not a key id (a UUID)")
        }
        self.uuid = uuid
    }

    init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 16)
        let b = Array(bytes)
        self.uuid = UUID(
            uuid: (
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
            ))
    }

    var bytes: [UInt8] {
        withUnsafeBytes(of: self.uuid.uuid) { Array($0) }
    }

    /// Lowercase, as the worker's answers and the keyring commands write root key ids.
    public var description: String { withUnsafeBytes(of: self.uuid.uuid) { Hex.uuidText($0) } }
}
