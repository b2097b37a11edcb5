import KMSDomain
import KMSWorkerProto
import Testing

@testable import KMSCryptoWorker

/// The worker protocol's enums against the KMSDomain types they stand for: every domain value
/// has its own worker value and comes back unchanged; UNSPECIFIED and unknown numbers map to
/// nothing, and the worker refuses them with a message rather than guessing.
@Suite struct WorkerEnumMappingTests {
    static func checkBijection<W: WorkerDomainEnum & CaseIterable>(_: W.Type) where W.Domain: CaseIterable & Hashable {
        let mapped = W.Domain.allCases.map { W($0) }
        #expect(Set(mapped.map(\.rawValue)).count == W.Domain.allCases.count, "two domain values share a number")
        #expect(!mapped.contains { $0.rawValue == 0 }, "a domain value maps to UNSPECIFIED")
        for value in W.Domain.allCases { #expect(W(value).domain == value) }
        // No worker value is left without a domain value (allCases holds UNSPECIFIED, not UNRECOGNIZED).
        #expect(W.allCases.count == W.Domain.allCases.count + 1)
        #expect(W(rawValue: 0)?.domain == nil)
        #expect(W(rawValue: 999)?.domain == nil)
    }

    @Test func everyDomainValueHasItsOwnWorkerValue() {
        Self.checkBijection(WorkerKeySpec.self)
        Self.checkBijection(WorkerEncryptionAlgorithm.self)
        Self.checkBijection(WorkerSigningAlgorithm.self)
        Self.checkBijection(WorkerMessageType.self)
        Self.checkBijection(WorkerMacAlgorithm.self)
        Self.checkBijection(WorkerDataKeyPairSpec.self)
        Self.checkBijection(WorkerWrappingAlgorithm.self)
        Self.checkBijection(WorkerWrappingKeySpec.self)
    }

    @Test func valuesOfTheSameNameMapOntoEachOther() {
        #expect(WorkerKeySpec(.eccSecgP256k1) == .eccSecgP256K1)
        #expect(WorkerEncryptionAlgorithm(.sm2pke) == .sm2Pke)
        #expect(WorkerSigningAlgorithm(.sm2dsa) == .sm2Dsa)
        #expect(WorkerSigningAlgorithm(.rsassaPkcs1V15Sha256) == .rsassaPkcs1V15Sha256)
        #expect(WorkerMessageType(.externalMu) == .externalMu)
        #expect(WorkerDataKeyPairSpec(.eccNistEdwards25519) == .eccNistEdwards25519)
        #expect(WorkerWrappingAlgorithm(.rsaAesKeyWrapSha256) == .rsaAesKeyWrapSha256)
        #expect(WorkerWrappingKeySpec(.rsa4096) == .rsa4096)
    }

    @Test func theWorkerRefusesWhatItDoesNotKnow() throws {
        let encryption = try WorkerEncryptionAlgorithm.unspecified.required("a", unspecified: .symmetricDefault)
        #expect(encryption == .symmetricDefault)
        #expect(try WorkerMessageType.unspecified.required("m", unspecified: .raw) == .raw)
        #expect(try WorkerMacAlgorithm.hmacSha384.required("m") == .hmacSha384)
        #expect(throws: KMSError.validation("mac_algorithm is required")) {
            try WorkerMacAlgorithm.unspecified.required("mac_algorithm")
        }
        let unknown = KMSError.validation(
            "signing_algorithm 99 is not a value this kms-cryptod knows; kmsd and kms-cryptod must come from one build")
        #expect(throws: unknown) { try WorkerSigningAlgorithm.UNRECOGNIZED(99).required("signing_algorithm") }
        // Even where UNSPECIFIED has a default, an unknown number is not taken for it.
        #expect(throws: KMSError.self) {
            try WorkerKeySpec.UNRECOGNIZED(42).required("key.key_spec", unspecified: .symmetricDefault)
        }
        #expect(throws: KMSError.validation("key.key_spec SM2 is not a supported KeySpec")) {
            try CryptoWorker.spec(.sm2, field: "key.key_spec")
        }
        #expect(try CryptoWorker.spec(.unspecified, field: "key.key_spec") == .symmetricDefault)
    }
}
