import KMSDomain
import Synchronization

/// The rows of CONNECTED AWS_CLOUDHSM stores, so that a request on a key in one makes no
/// database read to learn its token (module, label, wrapped PIN). The rules are XKSClientCache's,
/// and the two are dropped together (`KeyCache.invalidateCustomKeyStore`): a store's change drops
/// its row at once on this kmsd and, by NOTIFY, on the others; nothing is kept while the change
/// listener is down; a load begun before a drop is not kept; past `lifetime` the row is read
/// again. A store that is not CONNECTED is not kept: its keys' requests read it and are refused.
/// Nothing secret is held: the PIN stays wrapped under the root key.
public final class TokenStoreCache: Sendable {
    private struct Entry: Sendable {
        let store: CustomKeyStoreRecord
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

    /// An empty cache whose rows are read again after `lifetime`.
    public init(lifetime: Duration, clock: ServiceClock = .system) {
        self.lifetime = lifetime
        self.clock = clock
    }

    /// Taken before a load; hand it back to `keep` so a load that raced a drop is not kept.
    var generation: UInt64 { self.state.withLock { $0.generation } }

    /// Store `id`'s row while it is within its lifetime.
    func store(_ id: CustomKeyStoreID) -> CustomKeyStoreRecord? {
        let now = self.clock.now
        return self.state.withLock { state in state.entries[id].flatMap { $0.validUntil > now ? $0.store : nil } }
    }

    /// Keeps `store` (CONNECTED, as read at `generation`) unless a drop came since or nothing is heard.
    func keep(_ store: CustomKeyStoreRecord, loadedAt generation: UInt64) {
        guard store.connectionState == .connected else { return }
        let entry = Entry(store: store, validUntil: self.clock.now + self.lifetime)
        self.state.withLock { state in
            guard state.listening, state.generation == generation else { return }
            state.entries[store.id] = entry
        }
    }

    /// Drops store `id`'s row.
    public func invalidate(_ id: CustomKeyStoreID) {
        self.state.withLock { state in
            state.generation &+= 1
            state.entries.removeValue(forKey: id)
        }
    }

    /// Called with the change listener's state: while it is down nothing is kept.
    public func setListening(_ listening: Bool) {
        self.state.withLock { state in
            state.generation &+= 1
            state.listening = listening
            if !listening { state.entries.removeAll() }
        }
    }
}
