import Synchronization

/// Unwrapped key material kept in memory so that the hot path skips one AES-GCM open and the
/// root key lookup. Bounded, least-recently-used eviction, keyed by key ARN and material id
/// (the pair the wrapping AAD binds). Evicted material is zeroed by its own type
/// (swift-crypto's SymmetricKey, OpenSSL's key free).
final class MaterialCache<Value: Sendable>: Sendable {
    struct Key: Hashable {
        let keyARN: String
        let materialID: [UInt8]
    }

    private let state: Mutex<LRU>

    init(capacity: Int) {
        self.state = Mutex(LRU(capacity: max(0, capacity)))
    }

    func get(_ key: Key) -> Value? {
        self.state.withLock { $0.get(key) }
    }

    func put(_ key: Key, _ material: Value) {
        self.state.withLock { $0.put(key, material) }
    }

    var count: Int { self.state.withLock { $0.count } }

    /// A doubly linked list threaded through an array (slots reused on eviction) plus an index.
    struct LRU {
        private struct Node {
            var key: Key
            var value: Value
            var previous: Int
            var next: Int
        }

        private let capacity: Int
        private var nodes: [Node] = []
        private var index: [Key: Int] = [:]
        private var head = -1  // most recently used
        private var tail = -1  // least recently used

        init(capacity: Int) {
            self.capacity = capacity
        }

        var count: Int { self.index.count }

        mutating func get(_ key: Key) -> Value? {
            guard let slot = self.index[key] else { return nil }
            self.moveToFront(slot)
            return self.nodes[slot].value
        }

        mutating func put(_ key: Key, _ value: Value) {
            guard self.capacity > 0 else { return }
            if let slot = self.index[key] {
                self.nodes[slot].value = value
                self.moveToFront(slot)
                return
            }
            let slot: Int
            if self.nodes.count < self.capacity {
                slot = self.nodes.count
                self.nodes.append(Node(key: key, value: value, previous: -1, next: -1))
            } else {
                slot = self.tail
                self.unlink(slot)
                self.index.removeValue(forKey: self.nodes[slot].key)
                self.nodes[slot] = Node(key: key, value: value, previous: -1, next: -1)
            }
            self.index[key] = slot
            self.linkAtFront(slot)
        }

        private mutating func moveToFront(_ slot: Int) {
            guard slot != self.head else { return }
            self.unlink(slot)
            self.linkAtFront(slot)
        }

        private mutating func unlink(_ slot: Int) {
            let previous = self.nodes[slot].previous
            let next = self.nodes[slot].next
            if previous >= 0 { self.nodes[previous].next = next } else { self.head = next }
            if next >= 0 { self.nodes[next].previous = previous } else { self.tail = previous }
            self.nodes[slot].previous = -1
            self.nodes[slot].next = -1
        }

        private mutating func linkAtFront(_ slot: Int) {
            self.nodes[slot].next = self.head
            self.nodes[slot].previous = -1
            if self.head >= 0 { self.nodes[self.head].previous = slot }
            self.head = slot
            if self.tail < 0 { self.tail = slot }
        }
    }
}
