import CKMSPKCS11

extension PKCS11Token {
    /// Generates a 256-bit AES key on the token, labelled `keyLabel`: persistent, private, sensitive,
    /// never extractable, for encrypt and decrypt only. Refuses a label already in use
    /// (`.duplicateKeys`), so that a label always names one key.
    public func generateAESKey(label keyLabel: String) throws(PKCS11Error) {
        let labelBytes = Array(keyLabel.utf8)
        try self.withSession { session throws(PKCS11Error) in
            guard try self.find(labelBytes, session: session) == nil else { throw .duplicateKeys(label: keyLabel) }
            var handle: UInt = 0
            try check(
                kms_p11_generate_aes_key(self.module.handle, session, 32, labelBytes, labelBytes.count, &handle),
                "C_GenerateKey")
            self.remember(keyLabel, handle)
        }
    }

    /// AES-256-GCM under the key labelled `keyLabel`, with `iv` (12 bytes) and `aad`: ciphertext then
    /// the 16-byte tag.
    public func encrypt(keyLabel: String, iv: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(PKCS11Error)
        -> [UInt8]
    {
        try self.withKey(keyLabel) { session, key throws(PKCS11Error) in
            var out = [UInt8](repeating: 0, count: plaintext.count + Self.tagLength)
            var length = UInt(out.count)
            try check(
                kms_p11_gcm_encrypt(
                    self.module.handle, session, key, iv, iv.count, aad, aad.count, plaintext, plaintext.count, &out,
                    &length),
                "C_Encrypt")
            guard length == UInt(plaintext.count + Self.tagLength) else {
                throw .call(function: "C_Encrypt", returnValue: .generalError)
            }
            return out
        }
    }

    /// Opens what `encrypt` made: `ciphertext` is the ciphertext then the tag. A wrong tag, AAD or
    /// IV fails with the module's return value (SoftHSM2: CKR_ENCRYPTED_DATA_INVALID).
    public func decrypt(keyLabel: String, iv: [UInt8], aad: [UInt8], ciphertext: [UInt8]) throws(PKCS11Error)
        -> [UInt8]
    {
        guard ciphertext.count >= Self.tagLength else {
            throw .call(function: "C_Decrypt", returnValue: .encryptedDataLengthRange)
        }
        return try self.withKey(keyLabel) { session, key throws(PKCS11Error) in
            var out = [UInt8](repeating: 0, count: ciphertext.count)
            var length = UInt(out.count)
            try check(
                kms_p11_gcm_decrypt(
                    self.module.handle, session, key, iv, iv.count, aad, aad.count, ciphertext, ciphertext.count,
                    &out, &length),
                "C_Decrypt")
            guard length == UInt(ciphertext.count - Self.tagLength) else {
                throw .call(function: "C_Decrypt", returnValue: .generalError)
            }
            out.removeLast(out.count - Int(length))
            return out
        }
    }

    /// Destroys the key labelled `keyLabel`; `.keyNotFound` when there is none.
    public func destroyKey(label keyLabel: String) throws(PKCS11Error) {
        try self.withKey(keyLabel) { session, key throws(PKCS11Error) in
            try check(kms_p11_destroy_object(self.module.handle, session, key), "C_DestroyObject")
        }
        _ = self.handles.withLock { $0.removeValue(forKey: keyLabel) }
    }

    /// Whether a key labelled `keyLabel` is on the token.
    public func hasKey(label keyLabel: String) throws(PKCS11Error) -> Bool {
        let labelBytes = Array(keyLabel.utf8)
        return try self.withSession { session throws(PKCS11Error) in try self.find(labelBytes, session: session) != nil
        }
    }

    /// What the token says of the key's protection: what a test checks, and an operator may too.
    public func protection(ofKey keyLabel: String) throws(PKCS11Error) -> PKCS11KeyProtection {
        try self.withKey(keyLabel) { session, key throws(PKCS11Error) in
            func flag(_ type: UInt, _ name: String) throws(PKCS11Error) -> Bool {
                var value: Int32 = 0
                try check(kms_p11_bool_attribute(self.module.handle, session, key, type, &value), name)
                return value != 0
            }
            // Asking for CKA_VALUE must fail (CKR_ATTRIBUTE_SENSITIVE); the buffer is wiped either way.
            var value = [UInt8](repeating: 0, count: 64)
            var length: UInt = 0
            let rv = kms_p11_attribute(
                self.module.handle, session, key, PKCS11Constants.attributeValue, &value, value.count, &length)
            for index in value.indices { value[index] = 0 }
            return PKCS11KeyProtection(
                sensitive: try flag(PKCS11Constants.attributeSensitive, "C_GetAttributeValue"),
                extractable: try flag(PKCS11Constants.attributeExtractable, "C_GetAttributeValue"),
                neverExtractable: try flag(PKCS11Constants.attributeNeverExtractable, "C_GetAttributeValue"),
                valueReadResult: PKCS11ReturnValue(rawValue: rv)
            )
        }
    }

    /// Runs `body` with the handle of the key labelled `keyLabel`, found once and remembered; a
    /// remembered handle the token no longer knows (the key was destroyed and made again
    /// elsewhere) is forgotten and searched for again, once.
    private func withKey<T>(_ keyLabel: String, _ body: (UInt, UInt) throws(PKCS11Error) -> T) throws(PKCS11Error)
        -> T
    {
        let labelBytes = Array(keyLabel.utf8)
        return try self.withSession { session throws(PKCS11Error) in
            if let handle = self.handles.withLock({ $0[keyLabel] }) {
                do throws(PKCS11Error) {
                    return try body(session, handle)
                } catch {
                    guard error.returnValue == .keyHandleInvalid || error.returnValue == .objectHandleInvalid else {
                        throw error
                    }
                    _ = self.handles.withLock { $0.removeValue(forKey: keyLabel) }
                }
            }
            guard let handle = try self.find(labelBytes, session: session) else { throw .keyNotFound(label: keyLabel) }
            self.remember(keyLabel, handle)
            return try body(session, handle)
        }
    }

    private func find(_ label: [UInt8], session: UInt) throws(PKCS11Error) -> UInt? {
        var found = [UInt](repeating: 0, count: 2)
        var count: UInt = 0
        try check(
            kms_p11_find_keys(self.module.handle, session, label, label.count, &found, UInt(found.count), &count),
            "C_FindObjects")
        switch count {
        case 0: return nil
        case 1: return found[0]
        default: throw .duplicateKeys(label: String(decoding: label, as: UTF8.self))
        }
    }

    private func remember(_ label: String, _ handle: UInt) {
        self.handles.withLock { handles in
            // Bounded: a worker serving many keys re-finds the rare one it dropped.
            if handles.count >= 100_000 { handles.removeAll(keepingCapacity: true) }
            handles[label] = handle
        }
    }
}

/// A token key's protection attributes, and what asking for its value returned.
public struct PKCS11KeyProtection: Sendable, Hashable {
    /// CKA_SENSITIVE.
    public var sensitive: Bool
    /// CKA_EXTRACTABLE.
    public var extractable: Bool
    /// CKA_NEVER_EXTRACTABLE.
    public var neverExtractable: Bool
    /// C_GetAttributeValue(CKA_VALUE)'s return value: anything but CKR_OK means the value stayed inside.
    public var valueReadResult: PKCS11ReturnValue
}
