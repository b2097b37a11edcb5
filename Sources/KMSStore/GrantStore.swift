import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// Grants in PostgreSQL.
public struct GrantStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A store over `client`.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static let columns = """
        grant_id, key_id, name, grantee_principal, retiring_principal, issuing_account, operations,
        context_equals, context_subset, creation_date
        """

    /// Inserts a grant unless the key already holds `maximumPerKey`; false when it does.
    public func insert(_ grant: GrantRecord, audit: PendingAudit?) async throws -> Bool {
        let keyID = grant.keyID.uuid
        let insert: PostgresQuery = """
            INSERT INTO kms_grants (grant_id, key_id, name, grantee_principal, retiring_principal, issuing_account,
                operations, context_equals, context_subset, creation_date)
            SELECT \(grant.grantID), \(keyID), \(grant.name), \(grant.granteePrincipal), \(grant.retiringPrincipal),
                \(grant.issuingAccount), \(grant.operations), \(Self.json(grant.encryptionContextEquals)),
                \(Self.json(grant.encryptionContextSubset)), \(grant.creationDate)
            WHERE (SELECT count(*) FROM kms_grants WHERE key_id = \(keyID)) < \(GrantRecord.maximumPerKey)
            RETURNING 1
            """
        let changed = try await self.client.changeInOneStatement(
            insert, recording: audit, planKeyLookupsByIndex: true, logger: self.logger)
        return !changed.isEmpty
    }

    /// A key's grants in grant id order, after grant id `marker`.
    public func forKey(_ keyID: KeyID, after marker: String? = nil, limit: Int = GrantRecord.maximumPerKey)
        async throws -> [GrantRecord]
    {
        let id = keyID.uuid
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: Self.columns) FROM kms_grants WHERE key_id = \(id) AND grant_id > \(marker ?? "")
            ORDER BY grant_id LIMIT \(limit)
            """,
            logger: self.logger
        )
        return try await Self.decode(rows)
    }

    /// A key's grants with this grant id and grantee principal (nil: any), in grant id order after
    /// grant id `marker`: ListGrants' filters, in the query so that the limit counts matches only.
    public func forKey(_ keyID: KeyID, grantID: String?, granteePrincipal: String?, after marker: String?, limit: Int)
        async throws -> [GrantRecord]
    {
        let id = keyID.uuid
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: Self.columns) FROM kms_grants WHERE key_id = \(id) AND grant_id > \(marker ?? "")
                AND (\(grantID)::text IS NULL OR grant_id = \(grantID))
                AND (\(granteePrincipal)::text IS NULL OR grantee_principal = \(granteePrincipal))
            ORDER BY grant_id LIMIT \(limit)
            """,
            logger: self.logger
        )
        return try await Self.decode(rows)
    }

    /// Grants `principal` may retire (ListRetirableGrants), in grant id order after `marker`,
    /// each with its key's ARN.
    public func retirable(by principal: String, after marker: String?, limit: Int) async throws
        -> [(grant: GrantRecord, keyARN: String)]
    {
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: qualified(Self.columns, by: "g")), k.arn
            FROM kms_grants g JOIN kms_keys k ON k.key_id = g.key_id
            WHERE g.retiring_principal = \(principal) AND g.grant_id > \(marker ?? "")
            ORDER BY g.grant_id LIMIT \(limit)
            """,
            logger: self.logger
        )
        var grants: [(grant: GrantRecord, keyARN: String)] = []
        for try await row in rows {
            let (grantID, keyID, name, grantee, retiring, issuing, operations, equals, subset, created, arn) =
                try row.decode(
                    (String, UUID, String?, String, String?, String, [String], String?, String?, Date, String).self)
            grants.append(
                (
                    Self.record(
                        (grantID, keyID, name, grantee, retiring, issuing, operations, equals, subset, created)),
                    arn
                ))
        }
        return grants
    }

    /// The grant with this id, or nil.
    public func find(grantID: String) async throws -> GrantRecord? {
        let rows = try await self.client.query(
            "SELECT \(unescaped: Self.columns) FROM kms_grants WHERE grant_id = \(grantID)", logger: self.logger
        )
        return try await Self.decode(rows).first
    }

    /// The grants with these ids that exist (grant tokens naming grants a cache lacks).
    public func find(grantIDs: [String]) async throws -> [GrantRecord] {
        guard !grantIDs.isEmpty else { return [] }
        let rows = try await self.client.query(
            "SELECT \(unescaped: Self.columns) FROM kms_grants WHERE grant_id = ANY(\(grantIDs))", logger: self.logger
        )
        return try await Self.decode(rows)
    }

    /// Deletes a grant; false when there was none.
    public func delete(grantID: String, audit: PendingAudit?) async throws -> Bool {
        let changed = try await self.client.changeInOneStatement(
            "DELETE FROM kms_grants WHERE grant_id = \(grantID) RETURNING 1", recording: audit,
            planKeyLookupsByIndex: false, logger: self.logger)
        return !changed.isEmpty
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [GrantRecord] {
        var grants: [GrantRecord] = []
        for try await row in rows {
            grants.append(
                Self.record(
                    try row.decode(
                        (String, UUID, String?, String, String?, String, [String], String?, String?, Date).self)))
        }
        return grants
    }

    /// A grant from its columns, in `columns`' order.
    static func record(
        _ fields: (String, UUID, String?, String, String?, String, [String], String?, String?, Date)
    ) -> GrantRecord {
        let (grantID, keyID, name, grantee, retiring, issuing, operations, equals, subset, created) = fields
        return GrantRecord(
            grantID: grantID, keyID: KeyID(keyID), name: name, granteePrincipal: grantee,
            retiringPrincipal: retiring, issuingAccount: issuing, operations: operations,
            encryptionContextEquals: Self.context(equals), encryptionContextSubset: Self.context(subset),
            creationDate: created)
    }

    static func json(_ context: [String: String]?) -> String? {
        guard let context, let data = try? JSONSerialization.data(withJSONObject: context, options: [.sortedKeys])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func context(_ text: String?) -> [String: String]? {
        guard let text else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String]
    }
}
