import CKMSPKCS11

extension PKCS11Token {
    /// `count` bytes from the token's own random number generator (C_GenerateRandom): what AWS's
    /// GenerateRandom with a CloudHSM key store's id returns.
    public func generateRandom(count: Int) throws(PKCS11Error) -> [UInt8] {
        try self.withSession { session throws(PKCS11Error) in
            var bytes = [UInt8](repeating: 0, count: count)
            try check(kms_p11_generate_random(self.module.handle, session, &bytes, count), "C_GenerateRandom")
            return bytes
        }
    }
}
