import Foundation
import KMSDomain
import Logging
import NIOCore
import PostgresNIO

/// A key with everything that hangs off it that the service keeps in its cache: what a key
/// cache miss reads.
public struct WholeKey: Sendable {
    /// The key's row.
    public var record: KeyRecord
    /// Every material version, oldest first.
    public var materials: [StoredMaterial]
    /// Every grant, in grant id order.
    public var grants: [GrantRecord]
    /// The names of the aliases that point to it, in name order (bytewise), at most `aliasLimit`.
    public var aliases: [String]
    /// Its tags, in tag key order.
    public var tags: [(key: String, value: String)]

    /// How many alias names a whole key carries.
    public static let aliasLimit = 1000

    /// A key and its dependents as read.
    public init(
        record: KeyRecord, materials: [StoredMaterial], grants: [GrantRecord], aliases: [String],
        tags: [(key: String, value: String)]
    ) {
        self.record = record
        self.materials = materials
        self.grants = grants
        self.aliases = aliases
        self.tags = tags
    }
}

extension KeyStore {
    /// The key, its material versions, grants, aliases and tags in one round trip, as one
    /// snapshot (`kms_key_whole`, Migration32KeyWholeReads); nil when there is no such key.
    public func fetchWhole(keyID: KeyID) async throws -> WholeKey? {
        try await self.client.withConnection { connection in
            var whole: WholeKey?
            for try await row in try await connection.execute(WholeKeyRead(keyID: keyID), logger: self.logger) {
                whole = row
            }
            return whole
        }
    }

    /// `kms_key_whole`'s call, prepared once per pooled connection. Its one row names the key's
    /// columns as `columns` does, so that `decode` reads it as any key row.
    struct WholeKeyRead: PostgresPreparedStatement {
        static let name = "kms_key_whole_v1"
        static let bindingDataTypes: [PostgresDataType] = [.uuid, .int4]
        static let sql = """
            SELECT \(qualified(KeyStore.columns, by: "(w.key)")),
                m_ids, m_wrapped, m_roots, g_ids, g_names, g_grantees, g_retiring, g_issuing, g_operations,
                g_equals, g_subsets, g_created, a_names, t_keys, t_values
            FROM kms_key_whole($1, $2) w
            """
        typealias Row = WholeKey

        var keyID: KeyID

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(self.keyID.uuid)
            bindings.append(Int32(WholeKey.aliasLimit))
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> WholeKey { try KeyStore.decodeWhole(row, id: self.keyID.uuid) }
    }

    static func decodeWhole(_ row: PostgresRow, id: UUID) throws -> WholeKey {
        let record = try Self.decode(row)
        let columns = row.makeRandomAccess()
        func array<T>(_ name: String, _: T.Type) throws -> [T?]
        where T: PostgresArrayDecodable & PostgresArrayEncodable & PostgresNonThrowingEncodable, T == T._DecodableType {
            try columns[name].decode(NullableArray<T>?.self)?.elements ?? []
        }
        /// `values` without NULLs, and `count` of them (nil: as many as there are).
        func required<T>(_ values: [T?], count: Int? = nil, _ what: String) throws -> [T] {
            let present = values.compactMap { $0 }
            guard values.count == count ?? values.count, present.count == values.count else {
                throw StoreError.invalid("key \(id)'s \(what)")
            }
            return present
        }

        let materialIDs = try array("m_ids", ByteBuffer.self)
        let n = materialIDs.count
        let wrapped = try required(try array("m_wrapped", ByteBuffer.self), count: n, "material blobs")
        let roots = try array("m_roots", UUID.self)
        guard roots.count == n else { throw StoreError.invalid("key \(id)'s material root keys") }
        var materials: [StoredMaterial] = []
        for (index, materialID) in try required(materialIDs, count: n, "material ids").enumerated() {
            let stored = try MaterialID.stored(Data(materialID.readableBytesView), in: "key \(id)'s material")
            materials.append(
                roots[index].map {
                    StoredMaterial(materialID: stored, wrapped: Array(buffer: wrapped[index]), rootKeyID: $0)
                } ?? .tokenKey(stored))
        }

        let grantIDs = try array("g_ids", String.self)
        let g = grantIDs.count
        let names = try array("g_names", String.self)
        let grantees = try required(try array("g_grantees", String.self), count: g, "grantees")
        let retiring = try array("g_retiring", String.self)
        let issuing = try required(try array("g_issuing", String.self), count: g, "grants' issuing accounts")
        let operations = try required(try array("g_operations", String.self), count: g, "grants' operations")
        let equals = try array("g_equals", String.self)
        let subsets = try array("g_subsets", String.self)
        let created = try required(try array("g_created", Date.self), count: g, "grants' creation dates")
        guard names.count == g, retiring.count == g, equals.count == g, subsets.count == g else {
            throw StoreError.invalid("key \(id)'s grants")
        }
        let grants = try required(grantIDs, count: g, "grant ids").enumerated().map { index, grantID in
            GrantStore.record(
                (
                    grantID, id, names[index], grantees[index], retiring[index], issuing[index],
                    operations[index].split(separator: ",").map(String.init), equals[index], subsets[index],
                    created[index]
                ))
        }

        let aliases = try required(try array("a_names", String.self), "alias names")
        let keys = try required(try array("t_keys", String.self), "tag keys")
        let values = try required(try array("t_values", String.self), count: keys.count, "tag values")
        return WholeKey(
            record: record, materials: materials, grants: grants, aliases: aliases,
            tags: Array(zip(keys, values).map { (key: $0, value: $1) }))
    }
}
