import Foundation
import GRPCCore
import KMSClient
import KMSKubernetesProto
import KMSProto
import Logging

import enum KMSRPC.LogEscaping

/// The Kubernetes KMS v2 API (`v2.KeyManagementService`) over one of our keys: Encrypt wraps the
/// apiserver's DEK seed under the key with the cluster bound in the encryption context; Decrypt
/// unwraps it under the key its annotations name, if that is a key this plugin decrypts with;
/// Status reports an end-to-end check and the current write key.
public struct KMSv2PluginService: K8sKMSKeyManagementService.SimpleServiceProtocol {
    /// The apiserver's limits: ciphertext and key id under 1 kB, annotations under 32 kB.
    static let maximumCiphertext = 1023
    static let maximumKeyID = 1023
    static let maximumAnnotations = 32 * 1024 - 1
    /// Ours: what kmsd encrypts at most.
    static let maximumPlaintext = 4096

    let settings: KMSv2PluginSettings
    let clients: ReloadingKMSClient
    let health: PluginHealth
    let logger: Logger

    /// A service over `clients` (kmsd, authenticated) with `settings`.
    public init(settings: KMSv2PluginSettings, clients: ReloadingKMSClient, logger: Logger) {
        self.settings = settings
        self.clients = clients
        self.health = PluginHealth(settings: settings, clients: clients, logger: logger)
        self.logger = logger
    }

    /// The last end-to-end check, or a new one when it is older than the status lifetime: for
    /// the plugin's own /readyz as well as for Status.
    public func isHealthy() async -> (healthy: Bool, reason: String) {
        let snapshot = await self.health.snapshot()
        return (snapshot.isHealthy, snapshot.healthz)
    }

    /// The last end-to-end check (or a new one) and the current write key.
    public func status(request: K8sKMSStatusRequest, context: ServerContext) async throws -> K8sKMSStatusResponse {
        let snapshot = await self.health.snapshot()
        return .with {
            $0.version = "v2"
            $0.healthz = snapshot.healthz
            // Never empty, as the apiserver requires: before any check passed, the configured key.
            $0.keyID = String((snapshot.keyID.isEmpty ? self.settings.keyID : snapshot.keyID).prefix(Self.maximumKeyID))
        }
    }

    /// Wraps the apiserver's seed under the key, the cluster bound in the encryption context.
    public func encrypt(request: K8sKMSEncryptRequest, context: ServerContext) async throws -> K8sKMSEncryptResponse {
        let size = request.plaintext.count
        guard (1...Self.maximumPlaintext).contains(size) else {
            throw RPCError(
                code: .invalidArgument,
                message: "Encrypt: the plaintext is \(size) bytes; it must be 1 to \(Self.maximumPlaintext)")
        }
        let client = self.clients.client()
        let settings = self.settings
        let encrypted: KMSEncryptResponse
        do {
            encrypted = try await withTimeout(settings.callTimeout, "Encrypt") {
                try await client.call(
                    KMSMethod.encrypt,
                    .with {
                        $0.keyID = settings.keyID
                        $0.plaintext = request.plaintext
                        $0.encryptionContext = settings.context(purpose: "dek-seed")
                    })
            }
        } catch {
            throw self.failed(error, "Encrypt", uid: request.uid)
        }
        guard encrypted.ciphertextBlob.count <= Self.maximumCiphertext else {
            throw RPCError(
                code: .internalError,
                message: "Encrypt: the ciphertext is \(encrypted.ciphertextBlob.count) bytes, over the apiserver's 1 kB"
            )
        }
        // The key id of the material that encrypted: the last check's, unless the key (an alias
        // moved) or its material (a rotation) changed since, which a fresh check then shows.
        var snapshot = await self.health.snapshot()
        if snapshot.arn != encrypted.keyID {
            snapshot = await self.health.snapshot(maxAge: .zero)
        }
        return .with {
            $0.ciphertext = encrypted.ciphertextBlob
            $0.keyID = String((snapshot.keyID.isEmpty ? encrypted.keyID : snapshot.keyID).prefix(Self.maximumKeyID))
            $0.annotations = [
                settings.versionAnnotation: Data(KMSv2PluginSettings.formatVersion.utf8),
                settings.keyAnnotation: Data(encrypted.keyID.utf8),
            ]
        }
    }

    /// Unwraps a seed under the key its annotations name, if this plugin decrypts with that key.
    public func decrypt(request: K8sKMSDecryptRequest, context: ServerContext) async throws -> K8sKMSDecryptResponse {
        let size = request.ciphertext.count
        guard (1...Self.maximumCiphertext).contains(size) else {
            throw RPCError(
                code: .invalidArgument,
                message: "Decrypt: the ciphertext is \(size) bytes; this plugin's are 1 to \(Self.maximumCiphertext)")
        }
        let annotationBytes = request.annotations.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
        guard annotationBytes <= Self.maximumAnnotations else {
            throw RPCError(code: .invalidArgument, message: "Decrypt: the annotations are over 32 kB")
        }
        let settings = self.settings
        guard let version = request.annotations[settings.versionAnnotation] else {
            throw RPCError(
                code: .invalidArgument,
                message: "Decrypt: no \(settings.versionAnnotation) annotation: not a ciphertext of this plugin")
        }
        guard String(decoding: version, as: UTF8.self) == KMSv2PluginSettings.formatVersion else {
            throw RPCError(
                code: .invalidArgument,
                message: "Decrypt: unknown format version in \(settings.versionAnnotation) (this plugin reads 1)")
        }
        guard let named = request.annotations[settings.keyAnnotation].map({ String(decoding: $0, as: UTF8.self) })
        else {
            throw RPCError(code: .invalidArgument, message: "Decrypt: no \(settings.keyAnnotation) annotation")
        }
        let current = await self.health.keyARN()
        guard named == current || settings.decryptKeyARNs.contains(named) else {
            throw RPCError(
                code: .invalidArgument,
                message: "Decrypt: the ciphertext names a key this plugin does not decrypt with"
                    + (current == nil ? " (its own key's ARN is not known yet: kmsd has not answered)" : ""))
        }
        let client = self.clients.client()
        do {
            let decrypted = try await withTimeout(settings.callTimeout, "Decrypt") {
                try await client.call(
                    KMSMethod.decrypt,
                    .with {
                        $0.keyID = named
                        $0.ciphertextBlob = request.ciphertext
                        $0.encryptionContext = settings.context(purpose: "dek-seed")
                    })
            }
            return .with { $0.plaintext = decrypted.plaintext }
        } catch {
            throw self.failed(error, "Decrypt", uid: request.uid)
        }
    }

    /// Logs the failure with the request's uid (the apiserver's, for correlating) and maps it.
    private func failed(_ error: any Error, _ operation: String, uid: String) -> RPCError {
        let mapped = PluginError.rpcError(error, operation: operation)
        self.logger.warning(
            "request failed",
            metadata: [
                "operation": "\(operation)", "uid": .untrusted(String(uid.prefix(128))),
                "code": "\(mapped.code)", "error": "\(mapped.message)",
            ])
        return mapped
    }
}
