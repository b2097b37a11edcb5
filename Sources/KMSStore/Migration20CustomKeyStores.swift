import PostgresNIO

extension Migrations {
    /// Custom key stores, and the link of a key to the store and external key it lives in. A
    /// store's name is unique in its account and region, and so is an external key store's proxy
    /// URI (endpoint and path), as at AWS. The proxy's secret access key is stored only wrapped
    /// by kms-cryptod (bound to the store's ARN, kept in `arn` for the root key re-wrap, and the
    /// access key id).
    static let customKeyStores = Migration(
        version: 20, name: "custom key stores, and the store and external key of a key",
        statements: [
            """
            CREATE TABLE kms_custom_key_stores (
                custom_key_store_id text PRIMARY KEY,
                arn text NOT NULL UNIQUE,
                account_id text NOT NULL,
                region text NOT NULL,
                name text NOT NULL,
                store_type text NOT NULL,
                connection_state text NOT NULL,
                connection_error_code text,
                xks_uri_endpoint text,
                xks_uri_path text,
                xks_connectivity text,
                xks_access_key_id text,
                xks_wrapped_secret bytea,
                root_key_id uuid,
                creation_date timestamptz NOT NULL,
                row_version bigint NOT NULL DEFAULT 1,
                UNIQUE (account_id, region, name)
            )
            """,
            """
            CREATE UNIQUE INDEX kms_custom_key_stores_xks_uri
            ON kms_custom_key_stores (account_id, region, xks_uri_endpoint, xks_uri_path)
            WHERE xks_uri_endpoint IS NOT NULL
            """,
            "ALTER TABLE kms_keys ADD COLUMN custom_key_store_id text REFERENCES kms_custom_key_stores",
            "ALTER TABLE kms_keys ADD COLUMN xks_key_id text",
            """
            CREATE INDEX kms_keys_by_custom_key_store ON kms_keys (custom_key_store_id)
            WHERE custom_key_store_id IS NOT NULL
            """,
        ])
}
