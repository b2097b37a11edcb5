import PostgresNIO

extension Migrations {
    /// Keys in AWS_CLOUDHSM custom key stores: their material is a non-extractable key inside the
    /// store's PKCS #11 token, so its row names a material version and holds nothing wrapped (no
    /// root key, nothing for a root key re-wrap to touch); the token key's label follows from the
    /// key and material ids. The check keeps the two kinds of row from mixing.
    static let tokenKeyMaterials = Migration(
        version: 24, name: "key material held in a custom key store's PKCS #11 token",
        statements: [
            "ALTER TABLE kms_key_materials ALTER COLUMN root_key_id DROP NOT NULL",
            """
            ALTER TABLE kms_key_materials ADD CONSTRAINT kms_key_materials_wrapped_or_in_token
            CHECK ((root_key_id IS NULL) = (octet_length(wrapped) = 0))
            """,
        ])
}
