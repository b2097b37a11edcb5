import Foundation
import KMSClient
import KMSProto
import Logging
import Synchronization

/// The plugin's key and whether the path to it works, from an end-to-end check: DescribeKey
/// (the key's ARN, state and current material), then Encrypt and Decrypt of a probe under the
/// cluster's context. A Status is answered from the last check while it is younger than
/// `statusLifetime`, so the apiserver's polling costs kmsd nothing more; concurrent callers of a
/// stale one share one check.
final class PluginHealth: Sendable {
    struct Snapshot: Sendable {
        /// "ok", or what failed.
        var healthz: String
        /// The current write key: the key's ARN and its current material, so that it changes
        /// when the key rotates (empty before any check passed).
        var keyID: String
        /// The key's ARN, once known.
        var arn: String?
        var checkedAt: ContinuousClock.Instant

        var isHealthy: Bool { self.healthz == "ok" }
    }

    struct State {
        var last: Snapshot?
        var running: Task<Snapshot, Never>?
        /// The last key id a check saw, kept through failures (the apiserver needs a key id).
        var keyID = ""
        var arn: String?
    }

    enum Next {
        case fresh(Snapshot)
        case running(Task<Snapshot, Never>)
    }

    let settings: KMSv2PluginSettings
    let clients: ReloadingKMSClient
    let logger: Logger
    private let state = Mutex(State())

    init(settings: KMSv2PluginSettings, clients: ReloadingKMSClient, logger: Logger) {
        self.settings = settings
        self.clients = clients
        self.logger = logger
    }

    /// The last check if it is young enough, else a new one.
    func snapshot(maxAge: Duration? = nil) async -> Snapshot {
        let maxAge = maxAge ?? self.settings.statusLifetime
        let now = ContinuousClock.now
        let next = self.state.withLock { state -> Next in
            if let last = state.last, now - last.checkedAt < maxAge { return .fresh(last) }
            if let running = state.running { return .running(running) }
            let task = Task { await self.check() }
            state.running = task
            return .running(task)
        }
        switch next {
        case .fresh(let snapshot): return snapshot
        case .running(let check): return await check.value
        }
    }

    /// The key's ARN: from the last check, or from a new one.
    func keyARN() async -> String? {
        if let arn = self.state.withLock({ $0.arn }) { return arn }
        return await self.snapshot(maxAge: .zero).arn
    }

    private func check() async -> Snapshot {
        let healthz: String
        do {
            healthz = try await self.probe()
        } catch {
            healthz = PluginError.describe(error)
        }
        let snapshot = self.state.withLock { state -> Snapshot in
            let snapshot = Snapshot(healthz: healthz, keyID: state.keyID, arn: state.arn, checkedAt: .now)
            let was = state.last?.isHealthy
            state.last = snapshot
            state.running = nil
            if was != snapshot.isHealthy {
                if snapshot.isHealthy {
                    self.logger.notice(
                        "healthy: kmsd answers and the key works", metadata: ["key_id": "\(snapshot.keyID)"])
                } else {
                    self.logger.warning("not healthy", metadata: ["healthz": "\(snapshot.healthz)"])
                }
            }
            return snapshot
        }
        return snapshot
    }

    /// "ok", or the reason the key cannot be used; throws when kmsd could not be asked.
    private func probe() async throws -> String {
        let client = self.clients.client()
        let timeout = self.settings.callTimeout
        let described = try await withTimeout(timeout, "DescribeKey") {
            try await client.call(KMSMethod.describeKey, .with { $0.keyID = self.settings.keyID })
        }
        let metadata = described.keyMetadata
        let keyID =
            metadata.currentKeyMaterialID.isEmpty ? metadata.arn : "\(metadata.arn)#\(metadata.currentKeyMaterialID)"
        self.state.withLock { state in
            if state.keyID != keyID, !state.keyID.isEmpty {
                self.logger.notice("the key's current material changed", metadata: ["key_id": "\(keyID)"])
            }
            state.keyID = keyID
            state.arn = metadata.arn
        }
        guard metadata.keyState == .enabled else {
            return "the key \(metadata.arn) is \(metadata.keyState.awsName), not Enabled"
        }
        guard metadata.keyUsage == .encryptDecrypt, metadata.keySpec == .symmetricDefault else {
            return "the key \(metadata.arn) is not a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key"
        }
        let probe = Array("kms-k8s-plugin health probe".utf8)
        let context = self.settings.context(purpose: "health")
        let encrypted = try await withTimeout(timeout, "Encrypt") {
            try await client.call(
                KMSMethod.encrypt,
                .with {
                    $0.keyID = metadata.arn
                    $0.plaintext = Data(probe)
                    $0.encryptionContext = context
                })
        }
        let decrypted = try await withTimeout(timeout, "Decrypt") {
            try await client.call(
                KMSMethod.decrypt,
                .with {
                    $0.keyID = metadata.arn
                    $0.ciphertextBlob = encrypted.ciphertextBlob
                    $0.encryptionContext = context
                })
        }
        guard Array(decrypted.plaintext) == probe else { return "the probe did not decrypt to itself" }
        return "ok"
    }
}
