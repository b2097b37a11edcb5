import Foundation
import KMSDomain
import Logging
import PostgresNIO

/// One stored version of a key's material, still wrapped.
public struct StoredMaterial: Sendable, Hashable {
    /// The material's id, which every ciphertext made with it names.
    public let materialID: MaterialID
    /// The material wrapped by kms-cryptod under a root key; opaque to kmsd. Empty for a token key.
    public let wrapped: [UInt8]
    /// The root key it is wrapped under; root key rotation re-wraps whatever is not under the newest.
    /// Nil for a token key.
    public let rootKeyID: UUID?

    /// A material version as stored.
    public init(materialID: MaterialID, wrapped: [UInt8], rootKeyID: UUID) {
        self.materialID = materialID
        self.wrapped = wrapped
        self.rootKeyID = rootKeyID
    }

    private init(tokenKey materialID: MaterialID) {
        self.materialID = materialID
        self.wrapped = []
        self.rootKeyID = nil
    }

    /// A material version that is a key inside a custom key store's PKCS #11 token (AWS_CLOUDHSM):
    /// nothing of it is stored here but its id.
    public static func tokenKey(_ materialID: MaterialID) -> StoredMaterial { StoredMaterial(tokenKey: materialID) }

    /// Whether the material is a token key (it has no wrapped blob and no root key).
    public var isTokenKey: Bool { self.rootKeyID == nil }
}

/// Keys and their material versions in PostgreSQL. Every statement binds its values; nothing
/// is concatenated into SQL.
public struct KeyStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    private let batches: KeyInsertBatches

    /// How many batches of new keys may be at the database at once (`KeyInsertBatches`). Two
    /// gave the most CreateKeys a second at 4 x 16 and 64 x 1 on the 2-core machine, against 1, 3,
    /// 4, 8 and 16: one leaves the database idle while each batch's answer travels, more make
    /// smaller batches that each pay the per-call costs again.
    public static let defaultInsertConcurrency = 2

    /// A store over `client`; `insertConcurrency`: how many batches of new keys may be at the
    /// database at once, the rest waiting to go in the next.
    public init(client: PostgresClient, logger: Logger, insertConcurrency: Int = KeyStore.defaultInsertConcurrency) {
        self.client = client
        self.logger = logger
        self.batches = KeyInsertBatches(client: client, logger: logger, concurrency: insertConcurrency)
    }

    /// New keys waiting for a batch to go to the database in.
    public var insertsWaiting: Int { self.batches.waiting }

    static let columns = """
        key_id, arn, account_id, region, description, key_state, key_usage, key_spec, origin, key_manager,
        creation_date, deletion_date, pending_window_days, policy, current_material_id, row_version,
        rotation_period_days, next_rotation_date, valid_to, expiration_model, custom_key_store_id, xks_key_id
        """

    /// Inserts a key with its first material; with `alias`, also that alias for it, all or
    /// nothing: returns false (and inserts nothing) when the alias exists already. `audit`: the
    /// request's record, committed with the key (nil: a change no caller asked for). Throws
    /// ExternalKeyInUse when another key of its custom key store has its XksKeyId. One round trip
    /// (`InsertKeyCall`: a procedure that commits before it answers, since a lone statement is
    /// answered before PostgreSQL commits it, and success must mean durable), shared with the
    /// keys inserted at the same time when there is no alias (`KeyInsertBatches`).
    @discardableResult
    public func insert(
        _ key: KeyRecord, material: StoredMaterial?, alias: String? = nil, tags: [(key: String, value: String)] = [],
        audit: PendingAudit?
    ) async throws -> Bool {
        let call = InsertKeyCall(key: key, material: material, tags: tags, audit: audit, alias: alias)
        let inserted: Bool
        do {
            if alias == nil {
                try await self.batches.insert(call)
                inserted = true
            } else {
                inserted = try await Self.insertAlone(call, client: self.client, logger: self.logger)
            }
        } catch let error as PSQLError where Self.violatesExternalKeyIndex(error) {
            throw ExternalKeyInUse()
        }
        if inserted { audit?.markCommitted() }
        return inserted
    }

    /// One key's insert by itself, from a caller's task; false when its alias was taken.
    static func insertAlone(_ call: InsertKeyCall, client: PostgresClient, logger: Logger) async throws -> Bool {
        try await client.withConnection { connection in
            // Once sent, the CALL commits whatever becomes of this task, so its answer is
            // awaited in a task that a deadline's cancellation does not reach (the request's
            // task is cancelled and left to finish: `withDeadline`). Then the caller marks the
            // record committed, which runs the request's late handler, which chains the record
            // committed with the key. Abandoned at the cancellation, as the row sequence does, the
            // key would exist with its record left in the outbox, which only another kmsd or this
            // one's restart adopts. Waiting for a connection stays cancellable.
            try await Task { try await Self.execute(call, on: connection, logger: logger) }.value
        }
    }

    /// One key's insert on `connection`; false when its alias was taken.
    static func execute(_ call: InsertKeyCall, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        var inserted = false
        for try await row in try await connection.execute(call, logger: logger) { inserted = row }
        return inserted
    }

    private static func violatesExternalKeyIndex(_ error: PSQLError) -> Bool {
        guard let server = error.serverInfo else { return false }
        return server[.sqlState] == PostgresError.Code.uniqueViolation.raw
            && server[.constraintName] == ExternalKeyInUse.index
    }

    /// The key and all its material versions, or nil when there is no such key.
    public func fetch(keyID: KeyID) async throws -> (KeyRecord, [StoredMaterial])? {
        let id = keyID.uuid
        let rows = try await self.client.query(
            "SELECT \(unescaped: Self.columns) FROM kms_keys WHERE key_id = \(id)", logger: self.logger
        )
        var record: KeyRecord?
        for try await row in rows { record = try Self.decode(row) }
        guard let record else { return nil }
        let materialRows = try await self.client.query(
            "SELECT material_id, wrapped, root_key_id FROM kms_key_materials WHERE key_id = \(id)", logger: self.logger
        )
        var materials: [StoredMaterial] = []
        for try await (materialID, wrapped, rootKeyID) in materialRows.decode((Data, Data, UUID?).self) {
            let stored = try MaterialID.stored(materialID, in: "key \(id)'s material")
            materials.append(
                rootKeyID.map { StoredMaterial(materialID: stored, wrapped: Array(wrapped), rootKeyID: $0) }
                    ?? .tokenKey(stored))
        }
        return (record, materials)
    }

    /// Keys of one account and region in key id order, after `marker` (exclusive).
    public func list(account: String, region: String, after marker: KeyID?, limit: Int) async throws -> [KeyRecord] {
        let after = marker?.uuid ?? UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
        let rows = try await self.client.query(
            """
            SELECT \(unescaped: Self.columns) FROM kms_keys
            WHERE account_id = \(account) AND region = \(region) AND key_id > \(after)
            ORDER BY key_id LIMIT \(limit)
            """,
            logger: self.logger
        )
        var keys: [KeyRecord] = []
        for try await row in rows { keys.append(try Self.decode(row)) }
        return keys
    }

    /// Applies `change` to the stored key if its row version is still `record.version`;
    /// returns the stored result, or nil when someone else changed the key first.
    public func update(_ record: KeyRecord, audit: PendingAudit?) async throws -> KeyRecord? {
        let update: PostgresQuery = try """
        UPDATE kms_keys SET description = \(record.description), key_state = \(record.state.rawValue),
            deletion_date = \(record.deletionDate), pending_window_days = \(record.pendingWindowInDays),
            policy = \(record.policy), current_material_id = \(record.currentMaterialID.stored),
            rotation_period_days = \(record.rotationPeriodInDays), next_rotation_date = \(record.nextRotationDate),
            valid_to = \(record.validTo), expiration_model = \(record.expirationModel?.rawValue),
            row_version = row_version + 1
        WHERE key_id = \(record.keyID.uuid) AND row_version = \(record.version)
        RETURNING \(unescaped: Self.columns)
        """
        let changed = try await self.client.changeInOneStatement(
            update, recording: audit, planKeyLookupsByIndex: false, logger: self.logger)
        return try changed.first.map(Self.decode)
    }

    static func decode(_ row: PostgresRow) throws -> KeyRecord {
        let (id, arn, account, region, description, state, usage, spec, origin, manager) =
            try row.decode((UUID, String, String, String, String, String, String, String, String, String).self)
        let columns = row.makeRandomAccess()
        let creationDate = try columns["creation_date"].decode(Date.self)
        let deletionDate = try columns["deletion_date"].decode(Date?.self)
        let window = try columns["pending_window_days"].decode(Int?.self)
        let policy = try columns["policy"].decode(String.self)
        let materialColumn = try columns["current_material_id"].decode(Data.self)
        let material = materialColumn.isEmpty ? nil : try MaterialID.stored(materialColumn, in: "key \(id)")
        let version = try columns["row_version"].decode(Int64.self)
        let rotationPeriod = try columns["rotation_period_days"].decode(Int?.self)
        let nextRotation = try columns["next_rotation_date"].decode(Date?.self)
        let validTo = try columns["valid_to"].decode(Date?.self)
        let expirationModel = try columns["expiration_model"].decode(String?.self).flatMap(
            ExpirationModel.init(rawValue:))
        let storeColumn = try columns["custom_key_store_id"].decode(String?.self)
        let store = try storeColumn.map { text in
            guard let id = CustomKeyStoreID(text) else {
                throw StoreError.invalid("key \(id) names an invalid custom key store")
            }
            return id
        }
        let xksKeyID = try columns["xks_key_id"].decode(String?.self)
        guard let state = KeyState(rawValue: state), let usage = KeyUsage(rawValue: usage),
            let spec = KeySpec(rawValue: spec), let origin = Origin(rawValue: origin),
            let manager = KeyManager(rawValue: manager)
        else { throw StoreError.invalid("key \(id) has an unknown state, usage, spec, origin or manager") }
        return KeyRecord(
            keyID: KeyID(id), arn: arn, account: account, region: region, description: description,
            state: state, usage: usage, spec: spec, origin: origin, manager: manager, creationDate: creationDate,
            deletionDate: deletionDate, pendingWindowInDays: window, policy: policy,
            currentMaterialID: material, version: version, rotationPeriodInDays: rotationPeriod,
            nextRotationDate: nextRotation, validTo: validTo, expirationModel: expirationModel,
            customKeyStoreID: store, xksKeyID: xksKeyID
        )
    }
}

/// Stored data the service cannot use: a row changed outside it, or one that must exist and does not.
public enum StoreError: Error, CustomStringConvertible {
    case invalid(String)

    /// "stored data is not valid: " and which row (by id; no secret is ever part of it).
    public var description: String {
        switch self {
        case .invalid(let what): return "stored data is not valid: \(what)"
        }
    }
}
