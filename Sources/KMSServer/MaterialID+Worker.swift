import Foundation
import KMSDomain

extension MaterialID {
    /// The id kms-cryptod gave new material. It makes every id itself, so one of another length
    /// is the worker's fault, not the caller's.
    init(worker bytes: Data) throws(KMSError) {
        do {
            try self.init(bytes: bytes)
        } catch {
            throw KMSError.internalFailure("the crypto worker named an invalid key material id")
        }
    }
}
