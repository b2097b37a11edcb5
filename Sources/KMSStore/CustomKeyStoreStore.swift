import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// What an insert or update of a custom key store did.
public enum CustomKeyStoreWrite: Sendable, Hashable {
    /// Written.
    case written
    /// Another store of the account and region has the name.
    case nameInUse
    /// Another external key store of the account and region has the proxy URI (endpoint and path).
    case uriInUse
    /// Another AWS_CLOUDHSM store (of any account) uses the PKCS #11 token (module and label).
    case tokenInUse
    /// (Update) The store is gone or was changed since it was read (its row version moved).
    case changed
}

/// What DeleteCustomKeyStore's delete did.
public enum CustomKeyStoreDeletion: Sendable, Hashable {
    /// Deleted.
    case deleted
    /// Keys still live in it (pending deletion ones too).
    case hasKeys
    /// The store is gone or was changed since it was read.
    case changed
}

/// Custom key stores in PostgreSQL (`kms_custom_key_stores`, Migration20CustomKeyStores). Every
/// statement binds its values.
public struct CustomKeyStoreStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A store over `client`.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static let columns = """
        custom_key_store_id, account_id, region, name, store_type, connection_state, connection_error_code,
        xks_uri_endpoint, xks_uri_path, xks_connectivity, xks_access_key_id, xks_wrapped_secret, creation_date,
        row_version, cloudhsm_module, cloudhsm_token_label, cloudhsm_wrapped_pin
        """

    /// Inserts `store`, whose ARN is `arn`; its wrapped secret is under root key `rootKeyID`.
    public func insert(_ store: CustomKeyStoreRecord, arn: String, rootKeyID: UUID?, audit: PendingAudit?) async throws
        -> CustomKeyStoreWrite
    {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 == .written }) {
            connection in
            if let conflict = try await self.conflict(of: store, on: connection) { return conflict }
            let xks = store.xks
            let token = store.cloudHSM
            let rows = try await connection.query(
                """
                INSERT INTO kms_custom_key_stores (custom_key_store_id, arn, account_id, region, name, store_type,
                    connection_state, connection_error_code, xks_uri_endpoint, xks_uri_path, xks_connectivity,
                    xks_access_key_id, xks_wrapped_secret, root_key_id, creation_date, cloudhsm_module,
                    cloudhsm_token_label, cloudhsm_wrapped_pin)
                VALUES (\(store.id.description), \(arn), \(store.account), \(store.region), \(store.name),
                    \(store.type.rawValue), \(store.connectionState.rawValue), \(store.connectionError?.rawValue),
                    \(xks?.uriEndpoint), \(xks?.uriPath), \(xks?.connectivity.rawValue), \(xks?.accessKeyID),
                    \(xks.map { Data($0.wrappedSecret) }), \(rootKeyID), \(store.creationDate), \(token?.module),
                    \(token?.tokenLabel), \(token.map { Data($0.wrappedPIN) }))
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                logger: self.logger)
            for try await _ in rows { return .written }
            // A concurrent insert took the name or the URI between the check and the insert.
            return try await self.conflict(of: store, on: connection) ?? .nameInUse
        }
    }

    /// Writes `store` over the stored one if that is still at `store.version` (bumping it).
    /// `rootKeyID`: the root key of a new wrapped secret; nil keeps the stored one's.
    public func update(_ store: CustomKeyStoreRecord, rootKeyID: UUID?, audit: PendingAudit?) async throws
        -> CustomKeyStoreWrite
    {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 == .written }) {
            connection in
            if let conflict = try await self.conflict(of: store, on: connection) { return conflict }
            let xks = store.xks
            let token = store.cloudHSM
            let rows = try await connection.query(
                """
                UPDATE kms_custom_key_stores SET name = \(store.name),
                    cloudhsm_module = \(token?.module), cloudhsm_token_label = \(token?.tokenLabel),
                    cloudhsm_wrapped_pin = \(token.map { Data($0.wrappedPIN) }),
                    connection_state = \(store.connectionState.rawValue),
                    connection_error_code = \(store.connectionError?.rawValue),
                    xks_uri_endpoint = \(xks?.uriEndpoint), xks_uri_path = \(xks?.uriPath),
                    xks_connectivity = \(xks?.connectivity.rawValue), xks_access_key_id = \(xks?.accessKeyID),
                    xks_wrapped_secret = \(xks.map { Data($0.wrappedSecret) }),
                    root_key_id = coalesce(\(rootKeyID), root_key_id), row_version = row_version + 1
                WHERE custom_key_store_id = \(store.id.description) AND row_version = \(store.version)
                RETURNING 1
                """,
                logger: self.logger)
            var updated = false
            for try await _ in rows { updated = true }
            return updated ? .written : .changed
        }
    }

    /// Another store of the account and region with `store`'s name or proxy URI.
    private func conflict(of store: CustomKeyStoreRecord, on connection: PostgresConnection) async throws
        -> CustomKeyStoreWrite?
    {
        let id = store.id.description
        let named = try await connection.query(
            """
            SELECT 1 FROM kms_custom_key_stores
            WHERE account_id = \(store.account) AND region = \(store.region) AND name = \(store.name)
                AND custom_key_store_id <> \(id)
            """,
            logger: self.logger)
        for try await _ in named { return .nameInUse }
        if let token = store.cloudHSM {
            let used = try await connection.query(
                """
                SELECT 1 FROM kms_custom_key_stores
                WHERE cloudhsm_module = \(token.module) AND cloudhsm_token_label = \(token.tokenLabel)
                    AND custom_key_store_id <> \(id)
                """,
                logger: self.logger)
            for try await _ in used { return .tokenInUse }
        }
        guard let xks = store.xks else { return nil }
        let located = try await connection.query(
            """
            SELECT 1 FROM kms_custom_key_stores
            WHERE account_id = \(store.account) AND region = \(store.region) AND xks_uri_endpoint = \(xks.uriEndpoint)
                AND xks_uri_path = \(xks.uriPath) AND custom_key_store_id <> \(id)
            """,
            logger: self.logger)
        for try await _ in located { return .uriInUse }
        return nil
    }

    /// Deletes `store` if it is still at its row version and no key lives in it.
    public func delete(_ store: CustomKeyStoreRecord, audit: PendingAudit?) async throws -> CustomKeyStoreDeletion {
        try await self.client.change(recording: audit, logger: self.logger, effective: { $0 == .deleted }) {
            connection in
            let id = store.id.description
            // Locks the row first, so a CreateKey in the store waits for (and then fails on) the delete.
            let locked = try await connection.query(
                """
                SELECT 1 FROM kms_custom_key_stores
                WHERE custom_key_store_id = \(id) AND row_version = \(store.version) FOR UPDATE
                """,
                logger: self.logger)
            var present = false
            for try await _ in locked { present = true }
            guard present else { return .changed }
            let keys = try await connection.query(
                "SELECT 1 FROM kms_keys WHERE custom_key_store_id = \(id) LIMIT 1", logger: self.logger)
            for try await _ in keys { return .hasKeys }
            try await connection.query(
                "DELETE FROM kms_custom_key_stores WHERE custom_key_store_id = \(id)", logger: self.logger)
            return .deleted
        }
    }

    /// Whether a key of the store is linked to the external key `xksKeyID` (keys pending
    /// deletion too: their rows stay until the reaper deletes them).
    public func hasKey(in id: CustomKeyStoreID, xksKeyID: String) async throws -> Bool {
        let rows = try await self.client.query(
            "SELECT 1 FROM kms_keys WHERE custom_key_store_id = \(id.description) AND xks_key_id = \(xksKeyID) LIMIT 1",
            logger: self.logger)
        for try await _ in rows { return true }
        return false
    }

    /// The store with this id, in any account; nil when there is none.
    public func fetch(_ id: CustomKeyStoreID) async throws -> CustomKeyStoreRecord? {
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: Self.columns) FROM kms_custom_key_stores
            WHERE custom_key_store_id = \(id.description)
            """,
            logger: self.logger)
        for try await row in rows { return try Self.decode(row) }
        return nil
    }

    /// The store of the account and region with this name; nil when there is none.
    public func fetch(named name: String, account: String, region: String) async throws -> CustomKeyStoreRecord? {
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: Self.columns) FROM kms_custom_key_stores
            WHERE account_id = \(account) AND region = \(region) AND name = \(name)
            """,
            logger: self.logger)
        for try await row in rows { return try Self.decode(row) }
        return nil
    }

    /// Stores of the account and region in id order, after `marker` (exclusive).
    public func list(account: String, region: String, after marker: CustomKeyStoreID?, limit: Int) async throws
        -> [CustomKeyStoreRecord]
    {
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: Self.columns) FROM kms_custom_key_stores
            WHERE account_id = \(account) AND region = \(region) AND custom_key_store_id > \(marker?.description ?? "")
            ORDER BY custom_key_store_id LIMIT \(limit)
            """,
            logger: self.logger)
        var stores: [CustomKeyStoreRecord] = []
        for try await row in rows { stores.append(try Self.decode(row)) }
        return stores
    }

    static func decode(_ row: PostgresRow) throws -> CustomKeyStoreRecord {
        let columns = row.makeRandomAccess()
        let text = try columns["custom_key_store_id"].decode(String.self)
        guard let id = CustomKeyStoreID(text),
            let type = CustomKeyStoreType(rawValue: try columns["store_type"].decode(String.self)),
            let state = CustomKeyStoreConnectionState(rawValue: try columns["connection_state"].decode(String.self))
        else { throw StoreError.invalid("custom key store \(text) has an unknown id, type or state") }
        let error = try columns["connection_error_code"].decode(String?.self).flatMap(
            CustomKeyStoreConnectionError.init(rawValue:))
        var xks: XksProxySettings?
        if let endpoint = try columns["xks_uri_endpoint"].decode(String?.self) {
            guard let path = try columns["xks_uri_path"].decode(String?.self),
                let connectivity = try columns["xks_connectivity"].decode(String?.self).flatMap(
                    XksProxyConnectivity.init(rawValue:)),
                let accessKeyID = try columns["xks_access_key_id"].decode(String?.self),
                let wrapped = try columns["xks_wrapped_secret"].decode(Data?.self)
            else { throw StoreError.invalid("custom key store \(text) has an incomplete proxy configuration") }
            xks = XksProxySettings(
                uriEndpoint: endpoint, uriPath: path, connectivity: connectivity, accessKeyID: accessKeyID,
                wrappedSecret: Array(wrapped))
        }
        var token: CloudHSMTokenSettings?
        if let label = try columns["cloudhsm_token_label"].decode(String?.self) {
            guard let module = try columns["cloudhsm_module"].decode(String?.self),
                let pin = try columns["cloudhsm_wrapped_pin"].decode(Data?.self)
            else { throw StoreError.invalid("custom key store \(text) has an incomplete PKCS #11 token") }
            token = CloudHSMTokenSettings(module: module, tokenLabel: label, wrappedPIN: Array(pin))
        }
        return CustomKeyStoreRecord(
            id: id, account: try columns["account_id"].decode(String.self),
            region: try columns["region"].decode(String.self), name: try columns["name"].decode(String.self),
            type: type, connectionState: state, connectionError: error, xks: xks, cloudHSM: token,
            creationDate: try columns["creation_date"].decode(Date.self),
            version: try columns["row_version"].decode(Int64.self))
    }
}
