import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// Accounts, principals, access keys and identity policies in PostgreSQL.
public struct IdentityStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A store over `client`.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    // MARK: Accounts

    /// Creates an account with its root principal; false when the account id is taken.
    public func insertAccount(_ account: AccountRecord, root: PrincipalRecord, audit: PendingAudit?) async throws
        -> Bool
    {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 }) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO kms_accounts (account_id, name, creation_date)
                VALUES (\(account.accountID), \(account.name), \(account.creationDate))
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                logger: self.logger
            )
            var inserted = false
            for try await _ in rows { inserted = true }
            guard inserted else { return false }
            try await Self.insertPrincipal(root, on: connection, logger: self.logger)
            return true
        }
    }

    /// Every account, by id; at most 1000.
    public func accounts() async throws -> [AccountRecord] {
        let rows = try await self.client.query(
            "SELECT account_id, name, creation_date FROM kms_accounts ORDER BY account_id LIMIT 1000",
            logger: self.logger
        )
        var accounts: [AccountRecord] = []
        for try await (id, name, created) in rows.decode((String, String, Date).self) {
            accounts.append(AccountRecord(accountID: id, name: name, creationDate: created))
        }
        return accounts
    }

    /// The account with this id, or nil.
    public func account(_ id: String) async throws -> AccountRecord? {
        let rows = try await self.client.query(
            "SELECT account_id, name, creation_date FROM kms_accounts WHERE account_id = \(id)", logger: self.logger
        )
        for try await (id, name, created) in rows.decode((String, String, Date).self) {
            return AccountRecord(accountID: id, name: name, creationDate: created)
        }
        return nil
    }

    // MARK: Principals

    static let principalColumns = "arn, account_id, kind, name, is_admin, creation_date"

    /// False when a principal with that ARN exists.
    public func insertPrincipal(_ principal: PrincipalRecord, audit: PendingAudit?) async throws -> Bool {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 }) { connection in
            try await Self.insertPrincipal(principal, on: connection, logger: self.logger)
        }
    }

    @discardableResult
    static func insertPrincipal(_ principal: PrincipalRecord, on connection: PostgresConnection, logger: Logger)
        async throws -> Bool
    {
        let rows = try await connection.query(
            """
            INSERT INTO kms_principals (arn, account_id, kind, name, is_admin, creation_date)
            VALUES (\(principal.arn), \(principal.accountID), \(principal.kind.rawValue), \(principal.name),
                \(principal.isAdmin), \(principal.creationDate))
            ON CONFLICT DO NOTHING RETURNING 1
            """,
            logger: logger
        )
        var inserted = false
        for try await _ in rows { inserted = true }
        return inserted
    }

    /// The principal with this ARN, or nil.
    public func principal(_ arn: String) async throws -> PrincipalRecord? {
        let rows = try await self.client.query(
            "SELECT \(unescaped: Self.principalColumns) FROM kms_principals WHERE arn = \(arn)", logger: self.logger
        )
        return try await Self.decodePrincipals(rows).first
    }

    /// The account's principals, by ARN; at most 1000.
    public func principals(account: String) async throws -> [PrincipalRecord] {
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: Self.principalColumns) FROM kms_principals WHERE account_id = \(account) ORDER BY arn
                LIMIT 1000
            """,
            logger: self.logger
        )
        return try await Self.decodePrincipals(rows)
    }

    /// Deletes a principal with its access keys and policies; false when there was none.
    public func deletePrincipal(_ arn: String, audit: PendingAudit?) async throws -> Bool {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 }) { connection in
            let rows = try await connection.query(
                "DELETE FROM kms_principals WHERE arn = \(arn) RETURNING 1", logger: self.logger)
            var deleted = false
            for try await _ in rows { deleted = true }
            return deleted
        }
    }

    /// True when some admin has an access key (the bootstrap has been done).
    public func hasAdminWithAccessKey() async throws -> Bool {
        let rows = try await self.client.query(
            "SELECT 1 FROM kms_principals p JOIN kms_access_keys k ON k.principal_arn = p.arn WHERE p.is_admin LIMIT 1",
            logger: self.logger
        )
        for try await _ in rows { return true }
        return false
    }

    static func decodePrincipals(_ rows: PostgresRowSequence) async throws -> [PrincipalRecord] {
        var principals: [PrincipalRecord] = []
        for try await (arn, account, kind, name, admin, created) in rows.decode(
            (String, String, String, String, Bool, Date).self)
        {
            guard let kind = PrincipalRecord.Kind(rawValue: kind) else { continue }
            principals.append(
                PrincipalRecord(
                    arn: arn, accountID: account, kind: kind, name: name, isAdmin: admin, creationDate: created))
        }
        return principals
    }

    // MARK: Access keys

    /// How `insertAccessKey` went: inserted, the id already exists, or the principal has
    /// `AccessKeyRecord.maximumPerPrincipal` keys already.
    public enum AccessKeyInsert: Sendable {
        case inserted, duplicateID, limitReached
    }

    /// Stores an access key (its secret wrapped under root key `rootKeyID`), with its audit record when
    /// inserted; the principal's row is locked meanwhile, so concurrent inserts cannot pass the limit.
    public func insertAccessKey(_ key: AccessKeyRecord, rootKeyID: UUID, audit: PendingAudit?) async throws
        -> AccessKeyInsert
    {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 == .inserted }) {
            connection in
            // Serializes concurrent inserts for one principal, so the limit holds.
            try await connection.query(
                "SELECT 1 FROM kms_principals WHERE arn = \(key.principalARN) FOR UPDATE", logger: self.logger)
            let counted = try await connection.query(
                "SELECT count(*)::int FROM kms_access_keys WHERE principal_arn = \(key.principalARN)",
                logger: self.logger
            )
            var count = 0
            for try await (n) in counted.decode(Int.self) { count = n }
            guard count < AccessKeyRecord.maximumPerPrincipal else { return .limitReached }
            let rows = try await connection.query(
                """
                INSERT INTO kms_access_keys (access_key_id, principal_arn, status, wrapped_secret, root_key_id,
                    creation_date)
                VALUES (\(key.accessKeyID), \(key.principalARN), \(key.status.rawValue), \(Data(key.wrappedSecret)),
                    \(rootKeyID), \(key.creationDate))
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                logger: self.logger
            )
            var inserted = false
            for try await _ in rows { inserted = true }
            return inserted ? .inserted : .duplicateID
        }
    }

    static let accessKeyColumns = "access_key_id, principal_arn, status, wrapped_secret, creation_date"

    /// The access key with this id, its secret still wrapped; nil when there is none.
    public func accessKey(_ id: String) async throws -> AccessKeyRecord? {
        let rows = try await self.client.query(
            "SELECT \(unescaped: Self.accessKeyColumns) FROM kms_access_keys WHERE access_key_id = \(id)",
            logger: self.logger
        )
        return try await Self.decodeAccessKeys(rows).first
    }

    /// The principal's access keys, oldest first.
    public func accessKeys(of principalARN: String) async throws -> [AccessKeyRecord] {
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: Self.accessKeyColumns) FROM kms_access_keys WHERE principal_arn = \(principalARN)
                ORDER BY creation_date
            """,
            logger: self.logger
        )
        return try await Self.decodeAccessKeys(rows)
    }

    /// False when there is no such access key.
    public func setAccessKeyStatus(_ id: String, _ status: AccessKeyRecord.Status, audit: PendingAudit?) async throws
        -> Bool
    {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 }) { connection in
            let rows = try await connection.query(
                "UPDATE kms_access_keys SET status = \(status.rawValue) WHERE access_key_id = \(id) RETURNING 1",
                logger: self.logger
            )
            for try await _ in rows { return true }
            return false
        }
    }

    /// Deletes an access key, with its audit record; false when there was none.
    public func deleteAccessKey(_ id: String, audit: PendingAudit?) async throws -> Bool {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 }) { connection in
            let rows = try await connection.query(
                "DELETE FROM kms_access_keys WHERE access_key_id = \(id) RETURNING 1", logger: self.logger)
            for try await _ in rows { return true }
            return false
        }
    }

    static func decodeAccessKeys(_ rows: PostgresRowSequence) async throws -> [AccessKeyRecord] {
        var keys: [AccessKeyRecord] = []
        for try await (id, principal, status, wrapped, created) in rows.decode(
            (String, String, String, Data, Date).self)
        {
            keys.append(
                AccessKeyRecord(
                    accessKeyID: id, principalARN: principal,
                    status: AccessKeyRecord.Status(rawValue: status) ?? .inactive,
                    wrappedSecret: Array(wrapped), creationDate: created
                ))
        }
        return keys
    }

    // MARK: Identity policies

    /// How `putPolicy` went: stored, or the principal has `IdentityPolicyRecord.maximumPerPrincipal`
    /// other policies already.
    public enum PolicyPut: Sendable {
        case stored, limitReached
    }

    /// Creates or replaces the principal's policy of that name, with its audit record when stored;
    /// replacing one never counts against the limit.
    public func putPolicy(_ policy: IdentityPolicyRecord, audit: PendingAudit?) async throws -> PolicyPut {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 == .stored }) {
            connection in
            try await connection.query(
                "SELECT 1 FROM kms_principals WHERE arn = \(policy.principalARN) FOR UPDATE", logger: self.logger)
            let counted = try await connection.query(
                """
                SELECT count(*)::int FROM kms_identity_policies
                WHERE principal_arn = \(policy.principalARN) AND policy_name <> \(policy.name)
                """,
                logger: self.logger
            )
            var count = 0
            for try await (n) in counted.decode(Int.self) { count = n }
            guard count < IdentityPolicyRecord.maximumPerPrincipal else { return .limitReached }
            try await connection.query(
                """
                INSERT INTO kms_identity_policies (principal_arn, policy_name, document)
                VALUES (\(policy.principalARN), \(policy.name), \(policy.document))
                ON CONFLICT (principal_arn, policy_name) DO UPDATE SET document = EXCLUDED.document
                """,
                logger: self.logger
            )
            return .stored
        }
    }

    /// The principal's identity policies, by name.
    public func policies(of principalARN: String) async throws -> [IdentityPolicyRecord] {
        let rows = try await self.client.query(
            """
            SELECT policy_name, document FROM kms_identity_policies WHERE principal_arn = \(principalARN)
                ORDER BY policy_name
            """,
            logger: self.logger
        )
        var policies: [IdentityPolicyRecord] = []
        for try await (name, document) in rows.decode((String, String).self) {
            policies.append(IdentityPolicyRecord(principalARN: principalARN, name: name, document: document))
        }
        return policies
    }

    /// Deletes the principal's policy of that name, with its audit record; false when there was none.
    public func deletePolicy(principalARN: String, name: String, audit: PendingAudit?) async throws -> Bool {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 }) { connection in
            let rows = try await connection.query(
                """
                DELETE FROM kms_identity_policies WHERE principal_arn = \(principalARN) AND policy_name = \(name)
                    RETURNING 1
                """,
                logger: self.logger
            )
            for try await _ in rows { return true }
            return false
        }
    }
}
