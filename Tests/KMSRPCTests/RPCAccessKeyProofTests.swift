import Foundation
import KMSRPC
import Testing

@Suite struct RPCAccessKeyProofTests {
    @Test func aProofHoldsForItsNonceKeyIDAndSecretOnly() {
        let nonce = [UInt8](repeating: 7, count: 32)
        let secret = Array("secret-secret-secret".utf8)
        let proof = RPCAccessKeyProof.proof(secret: secret, nonce: nonce, accessKeyID: "AKIAEXAMPLEEXAMPLE12")
        #expect(
            RPCAccessKeyProof.verify(proof: proof, secret: secret, nonce: nonce, accessKeyID: "AKIAEXAMPLEEXAMPLE12"))
        #expect(
            !RPCAccessKeyProof.verify(
                proof: proof, secret: secret, nonce: [UInt8](repeating: 8, count: 32),
                accessKeyID: "AKIAEXAMPLEEXAMPLE12"))
        #expect(
            !RPCAccessKeyProof.verify(proof: proof, secret: secret, nonce: nonce, accessKeyID: "AKIAEXAMPLEEXAMPLE13"))
        #expect(
            !RPCAccessKeyProof.verify(
                proof: proof, secret: Array("secret-secret-secreT".utf8), nonce: nonce,
                accessKeyID: "AKIAEXAMPLEEXAMPLE12"))
        #expect(
            !RPCAccessKeyProof.verify(
                proof: Array(proof.dropLast()), secret: secret, nonce: nonce, accessKeyID: "AKIAEXAMPLEEXAMPLE12"))
    }

    /// Clients and servers of different builds must agree on the bytes: this is envelope.proto's
    /// encoding, computed independently (Python's hmac over the documented message).
    @Test func theProofOfAKnownAnswerIsPinned() {
        let proof = RPCAccessKeyProof.proof(
            secret: Array("secret-secret-secret".utf8), nonce: [UInt8](repeating: 7, count: 32),
            accessKeyID: "AKIAEXAMPLEEXAMPLE12"
        )
        #expect(
            proof.map { String(format: "%02x", $0) }.joined()
                == "d4e97101f6fc316d7a4f883704c041e7549bf9bd407a4216c58f637dc27fd38a")
    }
}
