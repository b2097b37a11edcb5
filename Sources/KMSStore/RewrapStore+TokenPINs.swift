import Foundation
import PostgresNIO

extension RewrapStore {
    /// An AWS_CLOUDHSM store's wrapped token PIN to re-wrap (bound to the store's id).
    public struct TokenPINRow: Sendable {
        /// The store's id, which the wrapping is bound to.
        public var customKeyStoreID: String
        /// The wrapped PIN as read.
        public var wrapped: [UInt8]

        /// A PIN as read.
        public init(customKeyStoreID: String, wrapped: [UInt8]) {
            self.customKeyStoreID = customKeyStoreID
            self.wrapped = wrapped
        }
    }

    /// Token PINs not under `newest` and not under a root key known to be missing.
    public func tokenPINs(notUnder newest: UUID, skipping missing: [UUID], limit: Int) async throws -> [TokenPINRow] {
        let rows = try await self.client.query(
            """
            SELECT custom_key_store_id, cloudhsm_wrapped_pin FROM kms_custom_key_stores
            WHERE cloudhsm_wrapped_pin IS NOT NULL AND root_key_id <> \(newest)
                AND NOT (root_key_id = ANY(\(missing)))
            LIMIT \(limit)
            """,
            logger: self.logger)
        var found: [TokenPINRow] = []
        for try await (id, wrapped) in rows.decode((String, Data).self) {
            found.append(TokenPINRow(customKeyStoreID: id, wrapped: Array(wrapped)))
        }
        return found
    }

    /// Replaces one PIN if it is still the one read (a concurrent change wins).
    public func replaceTokenPIN(_ row: TokenPINRow, wrapped: [UInt8], rootKeyID: UUID) async throws -> Bool {
        try await self.client.committing(logger: self.logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE kms_custom_key_stores SET cloudhsm_wrapped_pin = \(Data(wrapped)), root_key_id = \(rootKeyID),
                    row_version = row_version + 1
                WHERE custom_key_store_id = \(row.customKeyStoreID) AND cloudhsm_wrapped_pin = \(Data(row.wrapped))
                RETURNING 1
                """,
                logger: self.logger)
            for try await _ in rows { return true }
            return false
        }
    }
}
