import NIOCore

/// Joins the byte buffers written before a flush into one write, so that TLS below seals an HTTP
/// answer's head and body as one record, not one each: a record is a seal here and an open at
/// the client, and small answers are most of what an AWS JSON endpoint sends. Placed just above
/// the TLS handler; writes larger than a record's payload pass as they come.
public final class WriteGathering: ChannelOutboundHandler, RemovableChannelHandler {
    /// Bytes from the HTTP encoder.
    public typealias OutboundIn = IOData
    /// The same bytes, joined.
    public typealias OutboundOut = IOData

    /// TLS's largest record payload: a gathered write never needs more than one record.
    static let limit = 16 * 1024

    private var pending: ByteBuffer?
    private var promises: [EventLoopPromise<Void>] = []

    /// A handler holding nothing yet.
    public init() {}

    /// Gathers a buffer; anything else (a file region) goes on after what was gathered.
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var buffer) = Self.unwrapOutboundIn(data),
            buffer.readableBytes + (self.pending?.readableBytes ?? 0) <= Self.limit
        else {
            self.release(context: context)
            context.write(data, promise: promise)
            return
        }
        if self.pending == nil {
            self.pending = buffer
        } else {
            self.pending!.writeBuffer(&buffer)
        }
        if let promise { self.promises.append(promise) }
    }

    /// Writes what was gathered, then flushes.
    public func flush(context: ChannelHandlerContext) {
        self.release(context: context)
        context.flush()
    }

    /// What was gathered goes first, so that a close fails or completes its writes in order.
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.release(context: context)
        context.close(mode: mode, promise: promise)
    }

    /// Nothing gathered is lost when the handler leaves the pipeline.
    public func handlerRemoved(context: ChannelHandlerContext) {
        self.release(context: context)
    }

    private func release(context: ChannelHandlerContext) {
        guard let pending = self.pending else { return }
        self.pending = nil
        let promise: EventLoopPromise<Void>?
        switch self.promises.count {
        case 0:
            promise = nil
        case 1:
            promise = self.promises[0]
        default:
            promise = context.eventLoop.makePromise()
            let all = self.promises
            promise!.futureResult.assumeIsolated().whenComplete { result in
                for each in all { each.completeWith(result) }
            }
        }
        self.promises.removeAll(keepingCapacity: true)
        context.write(Self.wrapOutboundOut(.byteBuffer(pending)), promise: promise)
    }
}
