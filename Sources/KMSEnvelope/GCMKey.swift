import Crypto

/// A derived message key for AES-256-GCM with the format's explicit IVs and detached tags.
struct GCMKey: Sendable {
    let key: SymmetricKey

    func seal(_ plaintext: ArraySlice<UInt8>, iv: [UInt8], aad: [UInt8]) throws(EnvelopeError) -> (
        ciphertext: [UInt8], tag: [UInt8]
    ) {
        do {
            let box = try AES.GCM.seal(
                plaintext, using: self.key, nonce: try AES.GCM.Nonce(data: iv), authenticating: aad)
            return (Array(box.ciphertext), Array(box.tag))
        } catch {
            throw .invalidArgument("AES-GCM refused to encrypt: \(error)")
        }
    }

    /// Decrypts and verifies; `failure` says what did not verify.
    func open(
        ciphertext: ArraySlice<UInt8>, tag: ArraySlice<UInt8>, iv: [UInt8], aad: [UInt8], failure: String
    ) throws(EnvelopeError) -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(nonce: try AES.GCM.Nonce(data: iv), ciphertext: ciphertext, tag: tag)
            return Array(try AES.GCM.open(box, using: self.key, authenticating: aad))
        } catch {
            throw .authenticationFailed(failure)
        }
    }
}
