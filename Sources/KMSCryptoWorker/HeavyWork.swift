import KMSDomain
import KMSRPC
import NIOPosix
import Synchronization

/// A bounded thread pool for work too slow for an event loop (RSA private-key operations; key
/// generation has one of its own). Back-pressure: past `queueLimit` waiting jobs, new ones are
/// refused at once with a retryable ThrottlingException instead of queueing without bound.
final class HeavyWork: Sendable {
    private let pool: NIOThreadPool
    private let queued = Atomic<Int>(0)
    private let queueLimit: Int

    init(threads: Int, queueLimit: Int) {
        self.pool = NIOThreadPool(numberOfThreads: max(1, threads))
        self.pool.start()
        self.queueLimit = queueLimit
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws(KMSError) -> T) async throws(KMSError) -> T {
        let waiting = self.queued.wrappingAdd(1, ordering: .relaxed).newValue
        defer { self.queued.wrappingSubtract(1, ordering: .relaxed) }
        guard waiting <= self.queueLimit else {
            throw KMSError(.throttling, "kms-cryptod is busy with slow key operations; retry later", retryable: true)
        }
        do {
            return try await self.pool.runIfActive { () throws -> T in try body() }
        } catch let error as KMSError {
            throw error
        } catch {
            throw .internalFailure("kms-cryptod is shutting down; retry later")
        }
    }

    /// `work` done now, where the request arrived, or (`pooled`) handed back as the rest of the
    /// request, to run on this pool: an RPC handler's outcome (`RPCHandlerTable.registerStartingInline`).
    func outcome<T: Sendable>(pooled: Bool, _ work: @escaping @Sendable () throws(KMSError) -> T) throws(KMSError)
        -> RPCInlineOutcome<T>
    {
        guard pooled else { return .answer(try work()) }
        return .later { try await self.run(work) }
    }

    func shutdown() async {
        try? await self.pool.shutdownGracefully()
    }
}
