import PostgresNIO

extension Migrations {
    /// A key cache miss reads the key and everything hanging off it in one round trip
    /// (`KeyStore.fetchWhole`): its row, material versions, grants, aliases and tags, as one
    /// snapshot. Five statements took five round trips, about 2.6 ms at a light load where each
    /// answer wakes a sleeping thread (GetKeyPolicy of a key just changed 3.5 ms, of a cached
    /// one 0.9). As one statement sent unnamed, PostgreSQL parsed and planned its four joined
    /// aggregates on every read: 0.3 ms parsing and 0.5 ms planning, twice the five small
    /// statements' together. As a function its plan is made once per session, and made with
    /// whole-table scans priced out (the function's own setting), so a plan made while a table
    /// was a page or two never scans it whole once it has grown (the hazard of
    /// Migration31KeyInsertLookupsByIndex); the caller's statement around it is prepared.
    ///
    /// Each dependent comes back as one array per column (`array_agg` over the same rows in the
    /// same order); a grant's operations, an array themselves, as one comma-joined text each,
    /// since PostgreSQL's arrays of arrays must be rectangular (operation names are AWS's, which
    /// have no comma). The key comes back as its row type, so the function follows kms_keys'
    /// columns as later migrations change them; its caller names the columns it reads.
    static let keyWholeReads = Migration(
        version: 32, name: "a key and its dependents in one read",
        statements: [
            """
            CREATE FUNCTION kms_key_whole(p_key_id uuid, p_alias_limit integer) RETURNS TABLE (
                key kms_keys, m_ids bytea[], m_wrapped bytea[], m_roots uuid[],
                g_ids text[], g_names text[], g_grantees text[], g_retiring text[], g_issuing text[],
                g_operations text[], g_equals text[], g_subsets text[], g_created timestamptz[],
                a_names text[], t_keys text[], t_values text[]
            ) LANGUAGE plpgsql STABLE SET enable_seqscan = off AS $$
            #variable_conflict use_column
            BEGIN
                RETURN QUERY
                SELECT k, m.ids, m.blobs, m.roots,
                    g.ids, g.names, g.grantees, g.retirers, g.issuers, g.ops, g.equals, g.subsets, g.created,
                    a.names, t.tag_keys, t.tag_values
                FROM kms_keys k
                CROSS JOIN LATERAL (
                    SELECT array_agg(material_id ORDER BY created_at, material_id) AS ids,
                        array_agg(wrapped ORDER BY created_at, material_id) AS blobs,
                        array_agg(root_key_id ORDER BY created_at, material_id) AS roots
                    FROM kms_key_materials WHERE key_id = k.key_id) m
                CROSS JOIN LATERAL (
                    SELECT array_agg(grant_id ORDER BY grant_id) AS ids, array_agg(name ORDER BY grant_id) AS names,
                        array_agg(grantee_principal ORDER BY grant_id) AS grantees,
                        array_agg(retiring_principal ORDER BY grant_id) AS retirers,
                        array_agg(issuing_account ORDER BY grant_id) AS issuers,
                        array_agg(array_to_string(operations, ',') ORDER BY grant_id) AS ops,
                        array_agg(context_equals ORDER BY grant_id) AS equals,
                        array_agg(context_subset ORDER BY grant_id) AS subsets,
                        array_agg(creation_date ORDER BY grant_id) AS created
                    FROM kms_grants WHERE key_id = k.key_id) g
                CROSS JOIN LATERAL (
                    SELECT array_agg(alias_name ORDER BY alias_name COLLATE "C") AS names FROM (
                        SELECT alias_name FROM kms_aliases
                        WHERE account_id = k.account_id AND region = k.region AND target_key_id = k.key_id
                        ORDER BY alias_name COLLATE "C" LIMIT p_alias_limit) first) a
                CROSS JOIN LATERAL (
                    SELECT array_agg(tag_key ORDER BY tag_key) AS tag_keys,
                        array_agg(tag_value ORDER BY tag_key) AS tag_values
                    FROM kms_tags WHERE key_id = k.key_id) t
                WHERE k.key_id = p_key_id;
            END $$
            """
        ])
}
