import Foundation
import KMSDomain
import KMSStore

/// The last-use flusher's decisions, as a value (LastUsageTracker holds it under a lock and does
/// the writing): which uses wait to be written, which are answered from memory, and what a
/// failed write keeps.
struct LastUseBuffer: Sendable, Hashable {
    /// Uses not yet written, by key id.
    private(set) var pending: [KeyID: KeyUsageRecord] = [:]
    /// The last batch taken for writing: answered from memory while its write is in flight and
    /// one interval after, so no answer misses a use the database does not have yet.
    private(set) var recent: [KeyID: KeyUsageRecord] = [:]

    /// A use, in the order requests finished: the later one wins whatever its date says (a wall
    /// clock stepped back does not make an older use look newer).
    mutating func record(keyID: KeyID, _ use: KeyUsageRecord) {
        self.pending[keyID] = use
    }

    /// The latest use of a key not yet written (or written lately).
    func latest(keyID: KeyID) -> KeyUsageRecord? {
        self.pending[keyID] ?? self.recent[keyID]
    }

    /// The uses to write now (empty: nothing to flush); they stay answerable as `recent`.
    mutating func takeBatch() -> [KeyID: KeyUsageRecord] {
        let batch = self.pending
        guard !batch.isEmpty else { return batch }
        self.pending.removeAll(keepingCapacity: true)
        self.recent = batch
        return batch
    }

    /// The write of `batch` failed: its uses wait for the next flush, except where a key was
    /// used again meanwhile (that use is the later one, by order, not by date).
    mutating func writeFailed(_ batch: [KeyID: KeyUsageRecord]) {
        for (key, use) in batch where self.pending[key] == nil { self.pending[key] = use }
    }
}

/// The usage flusher's decisions, as a value (UsageCounter holds it under a lock and does the
/// writing): counts per account, key, operation and wall-clock hour, and what a failed write
/// keeps.
/// One flush's counts and the id that makes adding them idempotent.
struct UsageBatch: Sendable, Hashable {
    var id: UUID
    var counts: [UsageKey: UsageCount]
}

struct UsageTally: Sendable, Hashable {
    private(set) var counts: [UsageKey: UsageCount] = [:]

    /// The start of the UTC hour `date` is in: usage is billed by wall-clock hour, as AWS does,
    /// so a request counts in the hour the wall clock says (after a step, the stepped hour).
    static func hour(of date: Date) -> Date {
        let seconds = date.timeIntervalSince1970
        return Date(timeIntervalSince1970: (seconds / 3600).rounded(.down) * 3600)
    }

    mutating func count(account: String, keyARN: String?, operation: String, failed: Bool, at date: Date) {
        let key = UsageKey(account: account, keyARN: keyARN ?? "", operation: operation, hour: Self.hour(of: date))
        self.counts[key, default: UsageCount()].requests += 1
        if failed { self.counts[key, default: UsageCount()].failed += 1 }
    }

    /// Batches whose write failed, oldest first, each with the id it was first sent with: it
    /// may have committed with only its answer lost, and the id makes the second add a no-op
    /// (UsageStore.add), where merging it into the next batch would count it twice.
    private(set) var unsent: [UsageBatch] = []
    /// Batches kept while the database refuses them: at the default 10 s, more than a day's.
    static let maximumUnsent = 10_000

    /// The batches to write now, oldest first: those kept from failed writes, then the counts
    /// since, as a batch of id `id` (none of it when nothing was counted).
    mutating func takeBatches(id: UUID) -> [UsageBatch] {
        var batches = self.unsent
        self.unsent.removeAll()
        if !self.counts.isEmpty { batches.append(UsageBatch(id: id, counts: self.counts)) }
        self.counts.removeAll(keepingCapacity: true)
        return batches
    }

    /// The write of `batches` failed (the first of them; the rest were not tried): they are
    /// kept, with their ids, ahead of anything kept since. Returns how many of the oldest were
    /// dropped past `maximumUnsent`.
    mutating func writeFailed(_ batches: [UsageBatch]) -> Int {
        self.unsent.insert(contentsOf: batches, at: 0)
        let over = max(0, self.unsent.count - Self.maximumUnsent)
        self.unsent.removeFirst(over)
        return over
    }

    /// Everything counted and not written yet, added up.
    var unwritten: [UsageKey: UsageCount] {
        var all = self.counts
        for batch in self.unsent {
            for (key, count) in batch.counts {
                all[key, default: UsageCount()].requests += count.requests
                all[key, default: UsageCount()].failed += count.failed
            }
        }
        return all
    }
}
