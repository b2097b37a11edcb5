import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import Testing

@Suite struct MaterialWrappingTests {
    let arn = "arn:aws:kms:us-east-1:111122223333:key/0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11"

    @Test func roundTripsAndNamesTheRootKey() throws {
        let root = RootKey.generate()
        let ring = RootKeyring(keys: [root])
        let material = SymmetricKey(size: .bits256)
        let id = MaterialID.random()
        let wrapped = MaterialWrapping.wrap(material, kind: .symmetric256, keyARN: arn, materialID: id, under: root)
        #expect(try MaterialWrapping.header(of: wrapped).rootKeyID == root.id)
        let (unwrapped, header) = try MaterialWrapping.unwrap(wrapped, keyARN: arn, materialID: id, keyring: ring)
        #expect(unwrapped == material)
        #expect(header.kind == .symmetric256)
    }

    @Test func theBlobIsBoundToItsKeyARNAndMaterialID() throws {
        let root = RootKey.generate()
        let ring = RootKeyring(keys: [root])
        let id = MaterialID.random()
        let wrapped = MaterialWrapping.wrap(
            SymmetricKey(size: .bits256), kind: .symmetric256, keyARN: arn, materialID: id, under: root)
        let otherARN = arn.replacingOccurrences(of: "0b9b", with: "1b9b")
        #expect(throws: KMSError.self) {
            try MaterialWrapping.unwrap(wrapped, keyARN: otherARN, materialID: id, keyring: ring)
        }
        #expect(throws: KMSError.self) {
            try MaterialWrapping.unwrap(wrapped, keyARN: arn, materialID: .random(), keyring: ring)
        }
    }

    @Test func aRootKeyNotInTheKeyringIsReportedAsUnavailable() throws {
        let id = MaterialID.random()
        let wrapped = MaterialWrapping.wrap(
            SymmetricKey(size: .bits256), kind: .symmetric256, keyARN: arn, materialID: id, under: .generate())
        do {
            _ = try MaterialWrapping.unwrap(
                wrapped, keyARN: arn, materialID: id, keyring: RootKeyring(keys: [.generate()]))
            Issue.record("unwrapped under a root key the keyring does not hold")
        } catch {
            #expect(error.code == .keyUnavailable)
        }
    }

    @Test func materialWrappedUnderAnOlderRootKeyStillUnwraps() throws {
        let old = RootKey.generate()
        let material = SymmetricKey(size: .bits256)
        let id = MaterialID.random()
        let wrapped = MaterialWrapping.wrap(material, kind: .symmetric256, keyARN: arn, materialID: id, under: old)
        var ring = RootKeyring(keys: [old])
        ring.add(.generate())
        #expect(ring.newest.id != old.id)
        #expect(try MaterialWrapping.unwrap(wrapped, keyARN: arn, materialID: id, keyring: ring).material == material)
    }

    @Test func everySingleBitFlipIsRejected() throws {
        let root = RootKey.generate()
        let ring = RootKeyring(keys: [root])
        let id = MaterialID.random()
        let wrapped = MaterialWrapping.wrap(
            SymmetricKey(size: .bits256), kind: .symmetric256, keyARN: arn, materialID: id, under: root)
        for byte in wrapped.indices {
            for bit in 0..<8 {
                var damaged = wrapped
                damaged[byte] ^= UInt8(1) << UInt8(bit)
                #expect(throws: KMSError.self, "byte \(byte) bit \(bit)") {
                    try MaterialWrapping.unwrap(damaged, keyARN: arn, materialID: id, keyring: ring)
                }
            }
        }
    }
}

@Suite struct RootKeyringEncodingTests {
    @Test func roundTrips() throws {
        let ring = RootKeyring(keys: [.generate(), .generate(), .generate()])
        let decoded = try RootKeyringEncoding.decode(RootKeyringEncoding.encode(ring))
        #expect(decoded.keys.map(\.id) == ring.keys.map(\.id))
        #expect(decoded.keys.map(\.key) == ring.keys.map(\.key))
        #expect(decoded.newest.id == ring.keys[2].id)
    }

    @Test func refusesADamagedOrTruncatedFile() throws {
        let bytes = RootKeyringEncoding.encode(RootKeyring(keys: [.generate()]))
        for index in stride(from: 0, to: bytes.count, by: 7) {
            var damaged = bytes
            damaged[index] ^= 0x01
            #expect(throws: KMSError.self) { try RootKeyringEncoding.decode(damaged) }
        }
        #expect(throws: KMSError.self) { try RootKeyringEncoding.decode(Array(bytes.dropLast())) }
        #expect(throws: KMSError.self) { try RootKeyringEncoding.decode([]) }
    }
}

/// Access key secrets: wrapped bound to their key id and principal; proofs checked exactly.
@Suite struct AccessKeySecretTests {
    static let keyring = RootKeyring(keys: [RootKey.generate()])

    @Test func aWrappedSecretOpensOnlyForItsKeyIDAndPrincipal() throws {
        let secret = AccessKeySecrets.generateSecret()
        #expect(secret.count == 40)
        let id = AccessKeySecrets.generateAccessKeyID()
        #expect(id.hasPrefix("AKIA") && id.count == 20 && AccessKeySecrets.isValidAccessKeyID(id))
        let principal = "arn:aws:iam::111122223333:user/app"
        let wrapped = AccessKeySecrets.wrap(
            secret: secret, accessKeyID: id, principalARN: principal, under: Self.keyring.newest)
        #expect(!String(decoding: wrapped, as: UTF8.self).contains(secret))
        let opened = try AccessKeySecrets.withUnwrapped(
            wrapped, accessKeyID: id, principalARN: principal, keyring: Self.keyring
        ) { String(decoding: $0, as: UTF8.self) }
        #expect(opened == secret)
        #expect(throws: KMSError.self) {
            try AccessKeySecrets.withUnwrapped(
                wrapped, accessKeyID: id, principalARN: "arn:aws:iam::111122223333:user/admin", keyring: Self.keyring
            ) { _ in }
        }
        #expect(throws: KMSError.self) {
            try AccessKeySecrets.withUnwrapped(
                wrapped, accessKeyID: "AKIAOTHEROTHEROTHER2", principalARN: principal, keyring: Self.keyring
            ) { _ in }
        }
        var flipped = wrapped
        flipped[flipped.count - 1] ^= 1
        #expect(throws: KMSError.self) {
            try AccessKeySecrets.withUnwrapped(flipped, accessKeyID: id, principalARN: principal, keyring: Self.keyring)
            { _ in }
        }
    }

    @Test func idsAndImportedSecretsAreChecked() {
        #expect(!AccessKeySecrets.isValidAccessKeyID("akiaLOWERCASE12345"))
        #expect(!AccessKeySecrets.isValidAccessKeyID("SHORT"))
        #expect(AccessKeySecrets.isValidAccessKeyID("AKIAIOSFODNN7EXAMPLE"))
        #expect(AccessKeySecrets.isValidSecret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
        #expect(!AccessKeySecrets.isValidSecret("has a space in it!!"))
        #expect(!AccessKeySecrets.isValidSecret("short"))
    }
}
