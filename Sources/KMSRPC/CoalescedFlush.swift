import NIOCore

/// One flush for everything written in the same turn of the event loop: a write system call per
/// message was the second largest cost under load. Owned by one handler, used on its loop only.
final class CoalescedFlush {
    private var pending = false

    func schedule(_ context: ChannelHandlerContext) {
        guard !self.pending else { return }
        self.pending = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (flush, context) = loopBound.value
            flush.pending = false
            context.flush()
        }
    }
}
