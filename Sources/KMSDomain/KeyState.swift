/// A key's state and the transitions AWS allows between states.
public enum KeyState: String, Sendable, CaseIterable, Codable {
    case creating = "Creating"
    case enabled = "Enabled"
    case disabled = "Disabled"
    case pendingDeletion = "PendingDeletion"
    case pendingImport = "PendingImport"
    case pendingReplicaDeletion = "PendingReplicaDeletion"
    case unavailable = "Unavailable"
    case updating = "Updating"

    /// Whether a cryptographic operation may use a key in this state; the error otherwise,
    /// with AWS's codes and messages: Disabled → DisabledException, anything else →
    /// KMSInvalidStateException (`<ARN> is pending import.`, `<ARN> is pending deletion.`).
    public func checkUsable(keyARN: String) throws(KMSError) {
        switch self {
        case .enabled:
            return
        case .disabled:
            throw KMSError(.disabled, "\(keyARN) is disabled.")
        case .pendingImport:
            throw KMSError(.invalidState, "\(keyARN) is pending import.")
        case .pendingDeletion:
            throw KMSError(.invalidState, "\(keyARN) is pending deletion.")
        default:
            throw KMSError(
                .invalidState, "\(keyARN) is pending deletion or otherwise not usable (state \(self.rawValue)).")
        }
    }

    /// The state EnableKey leaves; throws KMSInvalidStateException unless the key is Enabled or Disabled.
    public func enabling(keyARN: String) throws(KMSError) -> KeyState {
        switch self {
        case .enabled, .disabled: return .enabled
        default: throw Self.invalid(keyARN, self, "EnableKey")
        }
    }

    /// The state DisableKey leaves; throws KMSInvalidStateException unless the key is Enabled or Disabled.
    public func disabling(keyARN: String) throws(KMSError) -> KeyState {
        switch self {
        case .enabled, .disabled: return .disabled
        default: throw Self.invalid(keyARN, self, "DisableKey")
        }
    }

    /// PendingDeletion, from Enabled, Disabled, PendingImport or Unavailable; throws KMSInvalidStateException
    /// otherwise.
    public func schedulingDeletion(keyARN: String) throws(KMSError) -> KeyState {
        switch self {
        case .enabled, .disabled, .pendingImport, .unavailable: return .pendingDeletion
        default: throw Self.invalid(keyARN, self, "ScheduleKeyDeletion")
        }
    }

    /// AWS puts a key whose deletion is cancelled into Disabled, whatever it was before (a
    /// multi-Region primary waiting for its replicas' deletion too).
    public func cancellingDeletion(keyARN: String) throws(KMSError) -> KeyState {
        switch self {
        case .pendingDeletion, .pendingReplicaDeletion: return .disabled
        default: throw Self.invalid(keyARN, self, "CancelKeyDeletion")
        }
    }

    /// Metadata changes (description, aliases) are refused only while deletion is pending.
    public func checkModifiable(keyARN: String) throws(KMSError) {
        if self == .pendingDeletion || self == .pendingReplicaDeletion {
            throw KMSError(.invalidState, "\(keyARN) is pending deletion.")
        }
    }

    private static func invalid(_ arn: String, _ state: KeyState, _ operation: String) -> KMSError {
        KMSError(.invalidState, "\(arn) is \(state.rawValue); \(operation) is not allowed in that state.")
    }
}
