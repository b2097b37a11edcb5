import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// Aliases in PostgreSQL: unique per account and region.
public struct AliasStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    let scope: ServiceScope

    /// A store over `client`; `scope` supplies the partition of the alias ARNs it builds.
    public init(client: PostgresClient, scope: ServiceScope, logger: Logger) {
        self.client = client
        self.scope = scope
        self.logger = logger
    }

    /// Inserts an alias; false when the name is taken in that account and region.
    public func create(account: String, region: String, name: String, keyID: KeyID, now: Date, audit: PendingAudit?)
        async throws -> Bool
    {
        let id = keyID.uuid
        let insert: PostgresQuery = """
            INSERT INTO kms_aliases (account_id, region, alias_name, target_key_id, creation_date, last_updated_date)
            VALUES (\(account), \(region), \(name), \(id), \(now), \(now))
            ON CONFLICT DO NOTHING RETURNING 1
            """
        let changed = try await self.client.changeInOneStatement(
            insert, recording: audit, planKeyLookupsByIndex: true, logger: self.logger)
        return !changed.isEmpty
    }

    /// Points an existing alias at another key; false when there is no such alias.
    public func update(account: String, region: String, name: String, keyID: KeyID, now: Date, audit: PendingAudit?)
        async throws -> Bool
    {
        let id = keyID.uuid
        let update: PostgresQuery = """
            UPDATE kms_aliases SET target_key_id = \(id), last_updated_date = \(now)
            WHERE account_id = \(account) AND region = \(region) AND alias_name = \(name)
            RETURNING 1
            """
        let changed = try await self.client.changeInOneStatement(
            update, recording: audit, planKeyLookupsByIndex: true, logger: self.logger)
        return !changed.isEmpty
    }

    /// Deletes an alias, with its audit record in the same transaction; false when there was none.
    public func delete(account: String, region: String, name: String, audit: PendingAudit?) async throws -> Bool {
        let delete: PostgresQuery = """
            DELETE FROM kms_aliases WHERE account_id = \(account) AND region = \(region) AND alias_name = \(name)
            RETURNING 1
            """
        let changed = try await self.client.changeInOneStatement(
            delete, recording: audit, planKeyLookupsByIndex: false, logger: self.logger)
        return !changed.isEmpty
    }

    /// The alias named `name` in that account and region, or nil.
    public func find(account: String, region: String, name: String) async throws -> AliasRecord? {
        let rows = try await self.client.query(
            """
            SELECT alias_name, target_key_id, creation_date, last_updated_date FROM kms_aliases
            WHERE account_id = \(account) AND region = \(region) AND alias_name = \(name)
            """,
            logger: self.logger
        )
        for try await row in rows.decode((String, UUID, Date, Date).self) {
            return self.record(account: account, region: region, row)
        }
        return nil
    }

    /// Aliases of an account and region (optionally of one key) in name order, after `marker`:
    /// byte order, whatever the database's collation, as ListAliases merges AWS's predefined
    /// aliases into the page in that order.
    public func list(account: String, region: String, keyID: KeyID?, after marker: String?, limit: Int) async throws
        -> [AliasRecord]
    {
        let after = marker ?? ""
        let rows: PostgresRowSequence
        if let keyID {
            let id = keyID.uuid
            rows = try await self.client.query(
                """
                SELECT alias_name, target_key_id, creation_date, last_updated_date FROM kms_aliases
                WHERE account_id = \(account) AND region = \(region) AND target_key_id = \(id)
                    AND alias_name > \(after) COLLATE "C"
                ORDER BY alias_name COLLATE "C" LIMIT \(limit)
                """,
                logger: self.logger
            )
        } else {
            rows = try await self.client.query(
                """
                SELECT alias_name, target_key_id, creation_date, last_updated_date FROM kms_aliases
                WHERE account_id = \(account) AND region = \(region) AND alias_name > \(after) COLLATE "C"
                ORDER BY alias_name COLLATE "C" LIMIT \(limit)
                """,
                logger: self.logger
            )
        }
        var aliases: [AliasRecord] = []
        for try await row in rows.decode((String, UUID, Date, Date).self) {
            aliases.append(self.record(account: account, region: region, row))
        }
        return aliases
    }

    private func record(account: String, region: String, _ row: (String, UUID, Date, Date)) -> AliasRecord {
        AliasRecord(
            name: row.0, arn: self.scope.aliasARN(account: account, region: region, name: row.0),
            targetKeyID: KeyID(row.1), creationDate: row.2, lastUpdatedDate: row.3
        )
    }
}
