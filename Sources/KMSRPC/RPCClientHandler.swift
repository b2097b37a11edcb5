import NIOCore

/// A request handed to the client pipeline by `RPCClientConnection`.
public struct RPCOutboundCall: Sendable {
    public let method: String
    public let payload: [UInt8]
    public let timeout: TimeAmount
    public let promise: EventLoopPromise<[UInt8]>

    public init(method: String, payload: [UInt8], timeout: TimeAmount, promise: EventLoopPromise<[UInt8]>) {
        self.method = method
        self.payload = payload
        self.timeout = timeout
        self.promise = promise
    }
}

/// The client end of a link: gives each call an id, matches answers to calls by id (in any
/// order), fails a call whose answer does not come within its timeout, and fails every call
/// still waiting when the connection goes away.
public final class RPCClientHandler: ChannelDuplexHandler {
    public typealias InboundIn = RPCEnvelope
    public typealias OutboundIn = RPCOutboundCall
    public typealias OutboundOut = RPCEnvelope

    private struct Pending {
        let method: String
        let promise: EventLoopPromise<[UInt8]>
        let timeout: Scheduled<Void>
    }

    private let maxFrameLength: Int
    private var pending: [UInt64: Pending] = [:]
    private var nextID: UInt64 = 1
    private let flush = CoalescedFlush()
    /// Set once the connection is unusable; later calls fail at once with it.
    private var terminalError: RPCError?

    public init(maxFrameLength: Int) {
        self.maxFrameLength = maxFrameLength
    }

    public var inFlightCount: Int { self.pending.count }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = Self.unwrapOutboundIn(data)
        if let error = self.terminalError {
            call.promise.fail(error)
            promise?.fail(error)
            return
        }
        // Envelope overhead: id, method name, field tags and lengths.
        guard call.payload.count + call.method.utf8.count + 32 <= self.maxFrameLength else {
            let error = RPCError(
                code: "ValidationException",
                message:
                    "the \(call.method) request of \(call.payload.count) bytes exceeds the frame limit of \(self.maxFrameLength) bytes"
            )
            call.promise.fail(error)
            promise?.fail(error)
            return
        }

        let id = self.nextID
        self.nextID = self.nextID == .max ? 1 : self.nextID + 1
        let timeout = context.eventLoop.assumeIsolated().scheduleTask(in: call.timeout) {
            guard let expired = self.pending.removeValue(forKey: id) else { return }
            expired.promise.fail(RPCError.timeout(method: call.method))
        }
        self.pending[id] = Pending(method: call.method, promise: call.promise, timeout: timeout)

        var envelope = RPCEnvelope()
        envelope.requestID = id
        envelope.method = call.method
        envelope.payload = .init(call.payload)
        context.write(Self.wrapOutboundOut(envelope), promise: promise)
        self.flush.schedule(context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        if envelope.requestID == 0 {
            // A connection-level error: the server closes right after it.
            if case .error(let body) = envelope.body {
                self.failAll(RPCError(body))
            }
            return
        }
        // An answer to a call that already timed out finds nothing here and is dropped.
        guard let call = self.pending.removeValue(forKey: envelope.requestID) else { return }
        call.timeout.cancel()
        switch envelope.body {
        case .error(let body):
            call.promise.fail(RPCError(body))
        case .payload(let payload):
            call.promise.succeed([UInt8](payload))
        case nil:
            call.promise.succeed([])
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? RPCFrameError {
            self.failAll(frameError.rpcError)
        }
        context.close(promise: nil)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.failAll(.connectionClosed())
        context.fireChannelInactive()
    }

    private func failAll(_ error: RPCError) {
        self.terminalError = self.terminalError ?? .connectionClosed()
        let calls = self.pending
        self.pending.removeAll()
        for call in calls.values {
            call.timeout.cancel()
            call.promise.fail(error)
        }
    }
}
