import KMSCrypto
import KMSDomain
import Testing

@Suite struct TokenPINTests {
    static func unwrap(_ wrapped: [UInt8], store: String, keyring: RootKeyring) throws -> String {
        try TokenPIN.withUnwrapped(wrapped, customKeyStoreID: store, keyring: keyring) {
            String(decoding: $0, as: UTF8.self)
        }
    }

    @Test func wrapsBoundToItsStore() throws {
        let root = RootKey.generate()
        let ring = RootKeyring(keys: [root])
        let wrapped = TokenPIN.wrap(Array("1234-pin".utf8), customKeyStoreID: "cks-a", under: root)
        #expect(TokenPIN.rootKeyID(of: wrapped) == root.id)
        #expect(!wrapped.contains(Array("1234-pin".utf8)))
        #expect(try Self.unwrap(wrapped, store: "cks-a", keyring: ring) == "1234-pin")
        // Another store's row, a damaged blob, a keyring without the root key.
        #expect(throws: KMSError.self) { try Self.unwrap(wrapped, store: "cks-b", keyring: ring) }
        var damaged = wrapped
        damaged[damaged.count - 1] ^= 1
        #expect(throws: KMSError.self) { try Self.unwrap(damaged, store: "cks-a", keyring: ring) }
        do {
            _ = try Self.unwrap(wrapped, store: "cks-a", keyring: RootKeyring(keys: [RootKey.generate()]))
            Issue.record("unwrapped without its root key")
        } catch let error as KMSError {
            #expect(error.code == .keyUnavailable)
        }
    }

    @Test func isNotAnAccessKeySecret() throws {
        // Same root key, same layout, another kind byte and domain: neither format opens the other.
        let root = RootKey.generate()
        let ring = RootKeyring(keys: [root])
        let secret = AccessKeySecrets.wrap(
            secret: "0123456789abcdef0123", accessKeyID: "AKIAEXAMPLE0000001", principalARN: "arn:aws:iam::1:user/x",
            under: root)
        #expect(TokenPIN.rootKeyID(of: secret) == nil)
        #expect(throws: KMSError.self) { try Self.unwrap(secret, store: "cks-a", keyring: ring) }
    }

    @Test func acceptsPrintablePINs() {
        #expect(TokenPIN.isValid("1234"))
        #expect(TokenPIN.isValid(String(repeating: "x", count: 128)))
        #expect(!TokenPIN.isValid(""))
        #expect(!TokenPIN.isValid(String(repeating: "x", count: 129)))
        #expect(!TokenPIN.isValid("pin\n"))
    }
}

@Suite struct TokenCiphertextTests {
    @Test func layoutAndParse() throws {
        let keyID = KeyID.random()
        let materialID = MaterialID.random()
        let header = TokenCiphertext.header(keyID: keyID, materialID: materialID)
        #expect(header.count == TokenCiphertext.headerLength)
        #expect(header[0] == 2)
        let other = TokenCiphertext.header(keyID: keyID, materialID: materialID)
        #expect(TokenCiphertext.nonce(ofHeader: header) != TokenCiphertext.nonce(ofHeader: other))
        let sealed = [UInt8](repeating: 0xAB, count: 5 + 16)
        let parts = try TokenCiphertext.parse(header + sealed)
        #expect(parts.keyID == keyID)
        #expect(parts.materialID == materialID)
        #expect(parts.header == header)
        #expect(parts.nonce == TokenCiphertext.nonce(ofHeader: header))
        #expect(parts.sealed == sealed)
        #expect(throws: KMSError.self) { try TokenCiphertext.parse(Array(header.prefix(20))) }
        var version1 = header + sealed
        version1[0] = 1
        #expect(throws: KMSError.self) { try TokenCiphertext.parse(version1) }
        #expect(TokenCiphertext.tokenKeyLabel(keyID: keyID, materialID: materialID) == "\(keyID)/\(materialID.hex)")
    }

    @Test func additionalDataBindsHeaderARNAndContext() throws {
        let header = TokenCiphertext.header(keyID: KeyID.random(), materialID: MaterialID.random())
        let arn = "arn:aws:kms:us-east-1:111122223333:key/x"
        let base = try TokenCiphertext.additionalData(header: header, keyARN: arn, encryptionContext: ["a": "b"])
        #expect(try TokenCiphertext.additionalData(header: header, keyARN: arn, encryptionContext: ["a": "b"]) == base)
        #expect(
            try TokenCiphertext.additionalData(header: header, keyARN: arn + "y", encryptionContext: ["a": "b"]) != base
        )
        #expect(try TokenCiphertext.additionalData(header: header, keyARN: arn, encryptionContext: [:]) != base)
        var otherHeader = header
        otherHeader[5] ^= 1
        #expect(
            try TokenCiphertext.additionalData(header: otherHeader, keyARN: arn, encryptionContext: ["a": "b"]) != base)
    }
}
