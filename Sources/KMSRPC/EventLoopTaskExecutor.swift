import NIOCore

/// Runs tasks on a NIO event loop. A request's task started with this preference runs on its
/// connection's own thread, so answering needs no hop to the global pool and back (each hop is
/// a futex wake and a context switch: the largest cost in profiles of the two-hop path).
/// Handlers must therefore never block: CPU-heavy work belongs on a bounded pool of its own.
public final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    /// The loop every job enqueued here runs on.
    public let eventLoop: any EventLoop

    /// An executor for tasks that should run on `eventLoop`'s thread.
    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs the job on the event loop, after whatever the loop is doing now.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
