import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import Testing

/// The external key store blob: what `blob` builds `parse` reads back; anything truncated or
/// of another version is InvalidCiphertextException; the outer AAD binds key, material, ARN and
/// context.
@Suite struct XKSCiphertextTests {
    static func inner() throws -> [UInt8] {
        try SymmetricCiphertext.seal(
            Array("data".utf8), keyID: KeyID.random(), materialID: MaterialID.random(),
            material: SymmetricKey(size: .bits256), encryptionContext: [:])
    }

    @Test func blobsParseBackAndDamagedOnesAreInvalidCiphertexts() throws {
        let inner = try Self.inner()
        let outer = (0..<inner.count).map { UInt8(truncatingIfNeeded: $0) }
        let blob = try XKSCiphertext.blob(
            inner: inner, initializationVector: Array(repeating: 1, count: 12),
            authenticationTag: Array(repeating: 2, count: 16), ciphertextMetadata: [7, 8], ciphertext: outer)
        #expect(XKSCiphertext.claims(blob) && !XKSCiphertext.claims(inner))
        let parts = try XKSCiphertext.parse(blob)
        #expect(parts.header == (try SymmetricCiphertext.header(of: inner)))
        #expect(parts.initializationVector == Array(repeating: 1, count: 12))
        #expect(parts.authenticationTag == Array(repeating: 2, count: 16))
        #expect(parts.ciphertextMetadata == [7, 8])
        #expect(parts.ciphertext == outer)
        for length in [0, 1, 49, 50, 62, 79] {
            #expect(throws: KMSError.self) { try XKSCiphertext.parse(Array(blob.prefix(length))) }
        }
        var other = blob
        other[0] = 1
        #expect(throws: KMSError.self) { try XKSCiphertext.parse(other) }
        // An IV length the API does not have: too long, or between its two sizes.
        for length: UInt8 in [40, 13, 15] {
            var badIV = blob
            badIV[49] = length
            #expect(throws: KMSError.self) { try XKSCiphertext.parse(badIV) }
        }
        // The proxy's parts must have the API's sizes; a 16-byte IV is one of them.
        for length in [1, 13, 15] {
            #expect(throws: KMSError.self) {
                try XKSCiphertext.blob(
                    inner: inner, initializationVector: Array(repeating: 1, count: length),
                    authenticationTag: Array(repeating: 2, count: 16), ciphertextMetadata: [], ciphertext: outer)
            }
        }
        let sixteen = try XKSCiphertext.blob(
            inner: inner, initializationVector: Array(repeating: 3, count: 16),
            authenticationTag: Array(repeating: 2, count: 16), ciphertextMetadata: [], ciphertext: outer)
        #expect(try XKSCiphertext.parse(sixteen).initializationVector == Array(repeating: 3, count: 16))
    }

    @Test func theOuterAADBindsKeyARNAndContext() throws {
        let header = try SymmetricCiphertext.header(of: try Self.inner())
        let arn = "arn:aws:kms:us-east-1:111122223333:key/x"
        let base = try XKSCiphertext.outerAAD(header: header, keyARN: arn, context: ["a": "b"])
        #expect(base.count == 32)
        #expect(try XKSCiphertext.outerAAD(header: header, keyARN: arn, context: ["a": "b"]) == base)
        #expect(try XKSCiphertext.outerAAD(header: header, keyARN: arn + "y", context: ["a": "b"]) != base)
        #expect(try XKSCiphertext.outerAAD(header: header, keyARN: arn, context: ["a": "c"]) != base)
        let other = try SymmetricCiphertext.header(of: try Self.inner())
        #expect(try XKSCiphertext.outerAAD(header: other, keyARN: arn, context: ["a": "b"]) != base)
    }
}
