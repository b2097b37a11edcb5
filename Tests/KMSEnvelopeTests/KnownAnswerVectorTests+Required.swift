import Foundation
import KMSEnvelope
import Testing

/// The vectors made with the required encryption context CMM (ESDK for .NET 4.x): their context
/// is not in the header, and they decrypt only with it reproduced.
extension KnownAnswerVectorTests {
    @Test func everyRequiredContextVectorDecryptsWithItsReproducedContextOnly() async throws {
        let manifest = try VectorManifest.load()
        var decrypted = 0
        for (id, vector) in manifest.tests.sorted(by: { $0.key < $1.key })
        where vector.expect == "success" && vector.cmm == "RequiredEncryptionContext" {
            let message = try VectorManifest.bytes(vector.ciphertext)
            let plaintext = try VectorManifest.bytes(try #require(vector.plaintext))
            let context = try #require(vector.reproducedEncryptionContext)
            let envelope = Self.reader(try manifest.keyring(vector))
            let result = try await envelope.decrypt(message, reproducedEncryptionContext: context)
            #expect(result.plaintext == plaintext, "\(id)")
            #expect(context.keys.allSatisfy { result.header.encryptionContext[$0] == nil }, "\(id): stored")
            let streamed = try await envelope.decrypt(Chunks(message, size: 999), reproducedEncryptionContext: context)
                .collect()
            #expect(streamed == plaintext, "\(id), streamed")
            var changed = context
            changed[context.keys.sorted()[0]] = "another value"
            for wrong in [[:], changed, context.merging(["extra": "x"]) { $1 }] {
                await #expect(throws: EnvelopeError.self, "\(id) with \(wrong)") {
                    _ = try await envelope.decrypt(message, reproducedEncryptionContext: wrong)
                }
            }
            decrypted += 1
        }
        #expect(decrypted >= 15)
    }
}
