import Foundation
import KMSCrypto
import KMSDomain
import Testing

@Suite struct ImportTokenTests {
    let arn = "arn:aws:kms:us-east-1:111122223333:key/0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11"
    static let wrappingKey = try! PrivateKey.generate(.rsa2048)

    func code(_ body: () throws -> Void) -> KMSError.Code? {
        do { try body() } catch let error as KMSError { return error.code } catch { return nil }
        return nil
    }

    @Test func opensForItsKeyUntilItExpires() throws {
        let root = RootKey.generate()
        let ring = RootKeyring(keys: [root])
        let now = Date()
        let terms = ImportToken(
            validTo: now.addingTimeInterval(86_400), algorithm: .rsaAesKeyWrapSha256, spec: .rsa2048)
        let token = terms.seal(Self.wrappingKey, keyARN: arn, under: root)
        let (opened, key) = try ImportToken.open(token, keyARN: arn, keyring: ring, now: now)
        #expect(opened.algorithm == .rsaAesKeyWrapSha256)
        #expect(opened.spec == .rsa2048)
        #expect(key.publicKeyDER == Self.wrappingKey.publicKeyDER)
        #expect(
            code { _ = try ImportToken.open(token, keyARN: arn, keyring: ring, now: now.addingTimeInterval(86_401)) }
                == .expiredImportToken)
        let other = arn.replacingOccurrences(of: "0b9b", with: "1b9b")
        #expect(code { _ = try ImportToken.open(token, keyARN: other, keyring: ring, now: now) } == .invalidImportToken)
    }

    @Test func termsAndBytesCannotBeChanged() throws {
        let root = RootKey.generate()
        let ring = RootKeyring(keys: [root])
        let now = Date()
        let token = ImportToken(validTo: now.addingTimeInterval(60), algorithm: .rsaesOaepSha256, spec: .rsa2048)
            .seal(Self.wrappingKey, keyARN: arn, under: root)
        // A later expiry written over the header's bytes no longer authenticates.
        var extended = token
        extended[3] &+= 1
        #expect(
            code { _ = try ImportToken.open(extended, keyARN: arn, keyring: ring, now: now) } == .invalidImportToken)
        for index in [0, 12, 40, token.count - 1] {
            var damaged = token
            damaged[index] ^= 0x01
            #expect(
                code { _ = try ImportToken.open(damaged, keyARN: arn, keyring: ring, now: now) } == .invalidImportToken,
                "byte \(index)")
        }
        #expect(
            code { _ = try ImportToken.open([1, 2, 3], keyARN: arn, keyring: ring, now: now) } == .invalidImportToken)
        #expect(code { _ = try ImportToken.open([], keyARN: arn, keyring: ring, now: now) } == .invalidImportToken)
    }
}
