import KMSDomain
import Synchronization
import Testing

@testable import KMSServer

/// Requests that miss the cache on the same key at once share one load; one that missed after
/// a change (a newer cache generation) never joins a load that began before it.
@Suite struct KeyLoadsTests {
    static let k = ServiceMetricsTests.k

    /// A load that waits until the test lets it finish, counting how often it ran.
    final class HeldLoad: Sendable {
        let runs = Mutex(0)
        let held = Mutex<[CheckedContinuation<Void, Never>]>([])
        let (started, starts) = AsyncStream.makeStream(of: Void.self)

        func load(_ id: KeyID, failing: Bool = false) -> @Sendable () async throws(KMSError) -> CachedKey? {
            { () async throws(KMSError) -> CachedKey? in
                self.runs.withLock { $0 += 1 }
                await withCheckedContinuation { continuation in
                    self.held.withLock { $0.append(continuation) }
                    self.starts.yield()
                }
                if failing { throw KMSError.internalFailure("the key store is unavailable; retry later") }
                return ServiceMetricsTests.key(id)
            }
        }

        /// Lets the first waiting load finish.
        func release() {
            let first = self.held.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            first?.resume()
        }
    }

    @Test func callersMissingTheSameKeyTogetherShareOneLoad() async throws {
        let loads = KeyLoads()
        let held = HeldLoad()
        var startIterator = held.started.makeAsyncIterator()
        let results = try await withThrowingTaskGroup(of: KeyID?.self) { group in
            for _ in 0..<50 {
                group.addTask { try await loads.key(Self.k, generation: 7, held.load(Self.k))?.record.keyID }
            }
            await startIterator.next()
            // Every caller is waiting on the one load before it is let go.
            try await Self.until { loads.inFlight == (1, 50) }
            held.release()
            var all: [KeyID?] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 50 && results.allSatisfy { $0 == Self.k })
        #expect(held.runs.withLock { $0 } == 1)
        #expect(loads.inFlight == (0, 0))
    }

    /// Waits (without a time limit of its own: the test's callers only need scheduling) until
    /// `condition` holds; gives up after 10,000 looks.
    static func until(_ condition: () -> Bool) async throws {
        for _ in 0..<10_000 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("the condition never held")
    }

    @Test func aCallerThatMissedAfterAChangeLoadsAgain() async throws {
        let loads = KeyLoads()
        let held = HeldLoad()
        var startIterator = held.started.makeAsyncIterator()
        let before = Task { try await loads.key(Self.k, generation: 1, held.load(Self.k)) }
        await startIterator.next()
        let after = Task { try await loads.key(Self.k, generation: 2, held.load(Self.k)) }
        await startIterator.next()
        #expect(held.runs.withLock { $0 } == 2)
        held.release()
        held.release()
        #expect(try await before.value?.record.keyID == Self.k)
        #expect(try await after.value?.record.keyID == Self.k)
        #expect(loads.inFlight == (0, 0))
    }

    @Test func aFailedLoadFailsItsCallersAndTheNextMissLoadsAgain() async throws {
        let loads = KeyLoads()
        let held = HeldLoad()
        var startIterator = held.started.makeAsyncIterator()
        let first = Task { try await loads.key(Self.k, generation: 3, held.load(Self.k, failing: true)) }
        await startIterator.next()
        held.release()
        let error = await #expect(throws: KMSError.self) { try await first.value }
        #expect(error?.code == .internalFailure)
        let second = Task { try await loads.key(Self.k, generation: 3, held.load(Self.k)) }
        await startIterator.next()
        held.release()
        #expect(try await second.value?.record.keyID == Self.k)
        #expect(held.runs.withLock { $0 } == 2)
    }
}
