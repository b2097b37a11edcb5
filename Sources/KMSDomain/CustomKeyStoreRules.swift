/// AWS's rules for a custom key store's connection states, as values: each operation asks the
/// store's state what it may do and gets a new state or AWS's exception.
extension CustomKeyStoreRecord {
    /// What ConnectCustomKeyStore does.
    public enum Connection: Sendable, Hashable {
        /// Already CONNECTED or CONNECTING: nothing to do, and success (AWS).
        case alreadyUnderway
        /// DISCONNECTED: try the connection.
        case connect
    }

    /// ConnectCustomKeyStore: valid in every state but DISCONNECTING and FAILED (a FAILED store
    /// is disconnected first, then connected again, as AWS requires).
    public func connection() throws(KMSError) -> Connection {
        switch self.connectionState {
        case .connected, .connecting: return .alreadyUnderway
        case .disconnected: return .connect
        case .failed, .disconnecting:
            throw KMSError(
                .customKeyStoreInvalidState,
                "Custom key store \(self.id) is \(self.connectionState.rawValue): ConnectCustomKeyStore is valid in "
                    + "every state but DISCONNECTING and FAILED (disconnect a FAILED store, then connect it).")
        }
    }

    /// DisconnectCustomKeyStore: valid in every state but DISCONNECTED and DISCONNECTING.
    public func checkDisconnectable() throws(KMSError) {
        switch self.connectionState {
        case .disconnected, .disconnecting:
            throw KMSError(
                .customKeyStoreInvalidState,
                "Custom key store \(self.id) is \(self.connectionState.rawValue): DisconnectCustomKeyStore is valid "
                    + "in every state but DISCONNECTED and DISCONNECTING.")
        default: return
        }
    }

    /// DeleteCustomKeyStore: DISCONNECTED only.
    public func checkDeletable() throws(KMSError) {
        guard self.connectionState == .disconnected else {
            throw KMSError(
                .customKeyStoreInvalidState,
                "Custom key store \(self.id) is \(self.connectionState.rawValue): DeleteCustomKeyStore is valid only "
                    + "when it is DISCONNECTED.")
        }
    }

    /// UpdateCustomKeyStore of an external key store: its name, proxy URI path and credential may
    /// change in any state; its URI endpoint and connectivity only while DISCONNECTED (AWS).
    public func checkUpdatable(changesEndpointOrConnectivity: Bool) throws(KMSError) {
        guard changesEndpointOrConnectivity, self.connectionState != .disconnected else { return }
        throw KMSError(
            .customKeyStoreInvalidState,
            "Custom key store \(self.id) is \(self.connectionState.rawValue): its XksProxyUriEndpoint and "
                + "XksProxyConnectivity change only while it is DISCONNECTED.")
    }

    /// CreateKey in this store: it must be CONNECTED (AWS).
    public func checkKeyCreation() throws(KMSError) {
        guard self.connectionState == .connected else {
            throw KMSError(
                .customKeyStoreInvalidState,
                "Custom key store \(self.id) is \(self.connectionState.rawValue): keys are created in a custom key "
                    + "store only while it is CONNECTED.")
        }
    }

    /// The state a key of this store shows and is checked in: AWS reports keys of a store that is
    /// not CONNECTED as Unavailable, unless they are pending deletion.
    public func keyState(stored: KeyState) -> KeyState {
        guard self.connectionState != .connected, stored != .pendingDeletion else { return stored }
        return .unavailable
    }
}

/// The shapes AWS requires of custom key store parameters (botocore's patterns).
public enum CustomKeyStoreValidation {
    /// 1..256 characters.
    public static func name(_ name: String, field: String) throws(KMSError) {
        guard (1...256).contains(name.count) else {
            throw .validation("\(field) must be 1..256 characters.")
        }
    }

    /// `^https://[a-zA-Z0-9.-]+$` (a port after a colon is accepted too: a proxy on this
    /// machine's tests listens on one), 10..128 characters.
    public static func uriEndpoint(_ text: String) throws(KMSError) {
        let host = text.hasPrefix("https://") ? text.dropFirst(8) : ""
        let parts = host.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let hostOK =
            !parts.isEmpty && !parts[0].isEmpty
            && parts[0].utf8.allSatisfy { Self.isAlphanumeric($0) || $0 == 0x2E || $0 == 0x2D }
        let portOK = parts.count == 1 || (parts[1].count <= 5 && UInt16(parts[1]).map { $0 > 0 } == true)
        guard (10...128).contains(text.utf8.count), hostOK, portOK else {
            throw .validation(
                "XksProxyUriEndpoint must be 10..128 characters matching ^https://[a-zA-Z0-9.-]+$ (an optional "
                    + ":port is accepted).")
        }
    }

    /// `^(/[a-zA-Z0-9\/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$`, 10..128 characters.
    public static func uriPath(_ text: String) throws(KMSError) {
        func valid() -> Bool {
            let marker = "/kms/xks/v"
            let version = text.reversed().prefix { $0.isASCII && $0.isNumber }
            guard (10...128).contains(text.utf8.count), (1...2).contains(version.count) else { return false }
            let rest = text.dropLast(version.count)
            guard rest.hasSuffix(marker) else { return false }
            let prefix = rest.dropLast(marker.count)
            if prefix.isEmpty { return true }
            return prefix.hasPrefix("/") && prefix.count >= 2
                && prefix.utf8.allSatisfy { Self.isAlphanumeric($0) || $0 == 0x2F || $0 == 0x5F || $0 == 0x2D }
        }
        guard valid() else {
            throw .validation(
                "XksProxyUriPath must be 10..128 characters matching ^(/[a-zA-Z0-9/_-]+/kms/xks/v\\d{1,2})$ or "
                    + "^(/kms/xks/v\\d{1,2})$.")
        }
    }

    /// AccessKeyId: 20..30 of A-Z and 2-7; RawSecretAccessKey: 43..64 of a-z, A-Z, 0-9, /, + and =.
    /// The message never repeats either value.
    public static func credential(accessKeyID: String, secret: String) throws(KMSError) {
        guard (20...30).contains(accessKeyID.utf8.count),
            accessKeyID.utf8.allSatisfy({ (0x41...0x5A).contains($0) || (0x32...0x37).contains($0) })
        else {
            throw .validation("XksProxyAuthenticationCredential.AccessKeyId must be 20..30 characters of A-Z and 2-7.")
        }
        guard (43...64).contains(secret.utf8.count),
            secret.utf8.allSatisfy({ Self.isAlphanumeric($0) || $0 == 0x2F || $0 == 0x2B || $0 == 0x3D })
        else {
            throw .validation(
                "XksProxyAuthenticationCredential.RawSecretAccessKey must be 43..64 characters of a-z, A-Z, 0-9, "
                    + "/, + and =.")
        }
    }

    /// An external key's id: 1..128 of a-z, A-Z, 0-9, -, _ and .
    public static func xksKeyID(_ text: String) throws(KMSError) {
        guard (1...128).contains(text.utf8.count),
            text.utf8.allSatisfy({ Self.isAlphanumeric($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E })
        else { throw .validation("XksKeyId must be 1..128 characters of a-z, A-Z, 0-9, -, _ and '.'.") }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }
}
