import Foundation
import KMSCrypto
import KMSDomain
import KMSXKS

/// AWS's double encryption for keys in an EXTERNAL_KEY_STORE store: the key's own material
/// seals first (a SymmetricCiphertext blob, as for any key), then the store's XKS proxy
/// encrypts that blob with the external key (an XKSCiphertext blob); Decrypt undoes the
/// layers in the other order.
///
/// The store (its state and proxy settings) and a client of its proxy come from the key cache's
/// XKSClientCache: a request on a known key of a CONNECTED store makes no store read, no worker
/// call for the proxy secret and no TLS handshake. The key record itself (store id, XKS key id)
/// comes from the key cache like any key's.
extension KMSService {
    /// The proxy client of `record`'s store; KMSInvalidStateException unless it is CONNECTED.
    func xksClient(for record: KeyRecord) async throws(KMSError) -> XKSClient {
        guard let id = record.customKeyStoreID,
            let backend = self.customKeyStoreBackends[.externalKeyStore] as? XKSKeyStoreBackend
        else { throw KMSError(.invalidState, "\(record.arn) is not in an external key store this kmsd serves.") }
        let cache = self.cache.xksClients
        let cached = cache.entry(id)
        if let cached, cached.fresh { return cached.entry.client }
        let generation = cache.generation
        let stores = try self.customKeyStoreStores()
        guard let store = try await self.store({ try await stores.fetch(id) }), store.connectionState == .connected
        else {
            if cached != nil { cache.invalidate(id) }
            throw KMSError(
                .invalidState, "\(record.arn) is unavailable: its custom key store \(id) is not CONNECTED.")
        }
        // Past its lifetime, an entry whose store row has not changed keeps its client (and connections).
        if let cached, cached.entry.store.version == store.version, cached.entry.store.xks == store.xks {
            return cache.keep(cached.entry.client, for: store, loadedAt: generation)
        }
        let arn = "arn:\(self.scope.partition):kms:\(store.region):\(store.account):key-store/\(store.id)"
        let (made, failure) = await backend.client(store, storeARN: arn, worker: self.worker, pooled: true)
        guard let client = made else { throw XKSKeyStoreBackend.exception(failure ?? .internalError) }
        return cache.keep(client, for: store, loadedAt: generation)
    }

    func xksMetadata(_ record: KeyRecord, caller: Caller, operation: String) -> XKSRequestMetadata {
        XKSRequestMetadata(
            awsPrincipalArn: caller.principalARN, kmsKeyArn: record.arn, kmsOperation: operation,
            kmsRequestId: caller.requestID.isEmpty ? UUID().uuidString : caller.requestID)
    }

    /// The outer layer over `inner`, a SymmetricCiphertext blob of `record`'s material.
    func xksSeal(
        _ inner: [UInt8], record: KeyRecord, context: [String: String], caller: Caller, operation: String
    ) async throws(KMSError) -> [UInt8] {
        guard let xksKeyID = record.xksKeyID else { return inner }
        let header = try SymmetricCiphertext.header(of: inner)
        let aad = try XKSCiphertext.outerAAD(header: header, keyARN: record.arn, context: context)
        let client = try await self.xksClient(for: record)
        let request = XKSEncryptRequest(
            requestMetadata: self.xksMetadata(record, caller: caller, operation: operation), plaintext: Data(inner),
            additionalAuthenticatedData: Data(aad))
        let answer: XKSEncryptResponse
        do {
            answer = try await client.encrypt(keyID: xksKeyID, request)
        } catch {
            throw XKSKeyStoreBackend.keyOperationError(error, creating: false)
        }
        do {
            return try XKSCiphertext.blob(
                inner: inner, initializationVector: Array(answer.initializationVector),
                authenticationTag: Array(answer.authenticationTag),
                ciphertextMetadata: Array(answer.ciphertextMetadata ?? Data()), ciphertext: Array(answer.ciphertext))
        } catch {
            throw KMSError(.xksProxyInvalidResponse, "The XKS proxy's encryption has parts of the wrong sizes.")
        }
    }

    /// The inner blob under the outer layer of `blob` (an XKSCiphertext blob of `record`).
    func xksOpen(
        _ blob: [UInt8], record: KeyRecord, context: [String: String], caller: Caller, operation: String
    ) async throws(KMSError) -> [UInt8] {
        guard let xksKeyID = record.xksKeyID else {
            throw .invalidCiphertext("The ciphertext is not one of this key's (it is in no external key store).")
        }
        let parts = try XKSCiphertext.parse(blob)
        let aad = try XKSCiphertext.outerAAD(header: parts.header, keyARN: record.arn, context: context)
        let client = try await self.xksClient(for: record)
        let request = XKSDecryptRequest(
            requestMetadata: self.xksMetadata(record, caller: caller, operation: operation),
            ciphertext: Data(parts.ciphertext),
            ciphertextMetadata: parts.ciphertextMetadata.isEmpty ? nil : Data(parts.ciphertextMetadata),
            initializationVector: Data(parts.initializationVector), authenticationTag: Data(parts.authenticationTag),
            additionalAuthenticatedData: Data(aad))
        let inner: [UInt8]
        do {
            inner = Array(try await client.decrypt(keyID: xksKeyID, request).plaintext)
        } catch {
            throw XKSKeyStoreBackend.keyOperationError(error, creating: false)
        }
        // The proxy's answer must be the inner blob the outer header names.
        guard let header = try? SymmetricCiphertext.header(of: inner), header == parts.header else {
            throw KMSError(.xksProxyInvalidResponse, "The XKS proxy's decryption is not a ciphertext of this key.")
        }
        return inner
    }
}
