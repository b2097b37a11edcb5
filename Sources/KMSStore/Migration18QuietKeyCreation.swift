import PostgresNIO

extension Migrations {
    /// No key change announcement for the rows of a key created in the same transaction (its
    /// first material, its tags, its alias): no kmsd can hold a copy of a key that did not exist.
    /// A transaction that runs NOTIFY takes one database-wide lock from its commit's start to its
    /// end, WAL flush included, so such commits cannot share a flush: with a NOTIFY for every
    /// CreateKey, CreateKey ran one commit at a time, ~1,000 a second with backends queued on the
    /// lock, whatever the pool. Changes to keys that existed still announce themselves, and so do
    /// new aliases (on their own channel: a kmsd may remember that a name was not taken).
    static let quietKeyCreation = Migration(
        version: 18, name: "no key change announcement for a key created in the same transaction",
        statements: [
            // xmin: the 32-bit id of the transaction that inserted the row. PL/pgSQL, not SQL: a
            // SQL function called from a trigger is parsed and planned at every call (19 % of
            // PostgreSQL's CPU under CreateKey), where PL/pgSQL keeps its statement's plan.
            """
            CREATE FUNCTION kms_key_created_here(p_key_id uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
            BEGIN
                RETURN EXISTS (
                    SELECT 1 FROM kms_keys WHERE key_id = p_key_id
                        AND xmin::text::bigint = (pg_current_xact_id()::text::bigint & 4294967295)
                );
            END $$
            """,
            """
            CREATE OR REPLACE FUNCTION kms_notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' AND kms_key_created_here(NEW.key_id) THEN
                    RETURN NULL;
                END IF;
                PERFORM pg_notify('kms_key_changed', COALESCE(NEW.key_id, OLD.key_id)::text);
                RETURN NULL;
            END $$
            """,
            """
            CREATE OR REPLACE FUNCTION kms_notify_alias_target_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('kms_key_changed', OLD.target_key_id::text); END IF;
                IF TG_OP <> 'DELETE' AND NOT (TG_OP = 'INSERT' AND kms_key_created_here(NEW.target_key_id)) THEN
                    PERFORM pg_notify('kms_key_changed', NEW.target_key_id::text);
                END IF;
                RETURN NULL;
            END $$
            """,
        ])
}
