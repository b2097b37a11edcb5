import PostgresNIO

extension Migrations {
    /// AWS_CLOUDHSM custom key stores' PKCS #11 token: the module's name (one of kms-cryptod's
    /// allow-list, never a path), the token's label and the user PIN, wrapped by kms-cryptod
    /// (bound to the store's id; never in plaintext). One token serves one store, in any account:
    /// two stores on one token would share its login.
    static let cloudHSMKeyStores = Migration(
        version: 23, name: "the PKCS #11 token of AWS_CLOUDHSM custom key stores",
        statements: [
            "ALTER TABLE kms_custom_key_stores ADD COLUMN cloudhsm_module text",
            "ALTER TABLE kms_custom_key_stores ADD COLUMN cloudhsm_token_label text",
            "ALTER TABLE kms_custom_key_stores ADD COLUMN cloudhsm_wrapped_pin bytea",
            """
            CREATE UNIQUE INDEX kms_custom_key_stores_cloudhsm_token
            ON kms_custom_key_stores (cloudhsm_module, cloudhsm_token_label)
            WHERE cloudhsm_token_label IS NOT NULL
            """,
        ])
}
