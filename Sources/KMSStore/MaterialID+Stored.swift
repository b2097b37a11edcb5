import Foundation
import KMSDomain

extension MaterialID {
    /// The id a `material_id` or `current_material_id` column holds. Every id the service writes
    /// has `byteCount` bytes, so any other length is a row changed outside it.
    static func stored(_ column: Data, in row: @autoclosure () -> String) throws(StoreError) -> MaterialID {
        do {
            return try MaterialID(bytes: column)
        } catch {
            throw .invalid("\(row()) has a material id of \(column.count) bytes")
        }
    }

    /// The id as its bytea column holds it.
    var stored: Data { Data(self.bytes) }
}

extension Optional where Wrapped == MaterialID {
    /// `current_material_id` is NOT NULL: an empty value stands for a key that never had material.
    var stored: Data { self?.stored ?? Data() }
}
