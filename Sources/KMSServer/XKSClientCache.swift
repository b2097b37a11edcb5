import KMSDomain
import KMSXKS
import Synchronization

/// One XKS proxy client per EXTERNAL_KEY_STORE store, with the store as read when the client was
/// made, so that a request on a key in the store makes neither a database read, nor a worker
/// call for the proxy secret, nor a TLS handshake (the client keeps its keep-alive connections).
///
/// The same rules as KeyCache's: an entry is dropped when the store changes (this kmsd's own
/// Update, Connect, Disconnect and Delete drop it at once; another kmsd's arrive by NOTIFY on
/// `kms_custom_key_store_changed`), nothing is kept while the change listener is down, and a load
/// begun before a drop is not kept. Past `lifetime` an entry's store is read again and the client
/// kept only if the row is unchanged; an entry unused for twice that is dropped, so the proxy
/// secret (which the client's signer holds to derive each day's signing key) stays in memory
/// only while the store is in use. Only CONNECTED stores are kept: any other is read per
/// request, and refused before any proxy call.
public final class XKSClientCache: Sendable {
    struct Entry: Sendable {
        let store: CustomKeyStoreRecord
        let client: XKSClient
        let validUntil: ContinuousClock.Instant
    }

    private struct State: Sendable {
        var entries: [CustomKeyStoreID: Entry] = [:]
        var generation: UInt64 = 0
        var listening = false
    }

    private let state = Mutex(State())
    private let clock: ServiceClock
    let lifetime: Duration

    /// An empty cache whose entries are checked against the database after `lifetime`.
    public init(lifetime: Duration, clock: ServiceClock = .system) {
        self.lifetime = lifetime
        self.clock = clock
    }

    /// Taken before a load; hand it back to `keep` so a load that raced a drop is not kept.
    var generation: UInt64 { self.state.withLock { $0.generation } }

    /// The entry of store `id`, and whether it is still within its lifetime (false: read the
    /// store again before using the client).
    func entry(_ id: CustomKeyStoreID) -> (entry: Entry, fresh: Bool)? {
        let now = self.clock.now
        return self.state.withLock { state in state.entries[id].map { ($0, $0.validUntil > now) } }
    }

    /// Keeps `client` for `store` (CONNECTED, as read at `generation`) unless a drop came since
    /// or nothing is heard; returns the client to use, which is the one already kept when a
    /// concurrent load of the same store row won.
    func keep(_ client: XKSClient, for store: CustomKeyStoreRecord, loadedAt generation: UInt64) -> XKSClient {
        let now = self.clock.now
        let entry = Entry(store: store, client: client, validUntil: now + self.lifetime)
        let (kept, stored, replaced) = self.state.withLock { state -> (XKSClient, Bool, XKSClient?) in
            guard state.listening, state.generation == generation else { return (client, false, nil) }
            let old = state.entries[store.id]
            if let old, old.client !== client, old.store.version == store.version, old.validUntil > now {
                return (old.client, false, nil)
            }
            state.entries[store.id] = entry
            return (client, true, old.flatMap { $0.client === client ? nil : $0.client })
        }
        if let replaced { Task { await replaced.shutdown() } }
        if stored { self.dropWhenIdle(store.id, client: client) }
        return kept
    }

    /// Drops store `id`'s client (its idle connections close; requests in flight finish on theirs).
    public func invalidate(_ id: CustomKeyStoreID) {
        let dropped = self.state.withLock { state in
            state.generation &+= 1
            return state.entries.removeValue(forKey: id)
        }
        if let dropped { Task { await dropped.client.shutdown() } }
    }

    /// Called with the change listener's state: while it is down nothing is kept.
    public func setListening(_ listening: Bool) {
        let dropped = self.state.withLock { state in
            state.generation &+= 1
            state.listening = listening
            defer { if !listening { state.entries.removeAll() } }
            return listening ? [] : Array(state.entries.values)
        }
        for entry in dropped { Task { await entry.client.shutdown() } }
    }

    /// Drops the entry of `client` once it has been past its lifetime for as long again
    /// without being read anew (a store in use is revalidated, and kept, well before that).
    /// The wait holds the client's identity only, not the client: one dropped meanwhile (and
    /// its secret) is freed at once.
    private func dropWhenIdle(_ id: CustomKeyStoreID, client: XKSClient) {
        let lifetime = self.lifetime
        let clock = self.clock
        let identity = ObjectIdentifier(client)
        Task { [weak self] in
            try? await clock.sleep(for: lifetime * 2)
            guard let self else { return }
            let now = clock.now
            let dropped = self.state.withLock { state -> XKSClient? in
                guard let entry = state.entries[id], ObjectIdentifier(entry.client) == identity,
                    entry.validUntil <= now
                else { return nil }
                state.entries.removeValue(forKey: id)
                return entry.client
            }
            if let dropped { await dropped.shutdown() }
        }
    }
}
