import Foundation
import NIOCore

/// A request handed to the client pipeline by `RPCClientConnection`.
public struct RPCOutboundCall: Sendable {
    /// The rpc's name on the wire.
    public let method: String
    /// The serialized request message (Data, as the envelope carries it: no copy into it).
    public let payload: Data
    /// How long to wait for the answer before failing with `RequestTimeoutException`.
    public let timeout: TimeAmount
    /// Succeeded with the serialized answer or failed with an `RPCError`; completed on the channel's loop.
    public let promise: EventLoopPromise<Data>

    /// A call as `RPCClientConnection` writes it to the pipeline.
    public init(method: String, payload: Data, timeout: TimeAmount, promise: EventLoopPromise<Data>) {
        self.method = method
        self.payload = payload
        self.timeout = timeout
        self.promise = promise
    }
}

/// The client end of a link: gives each call an id, matches answers to calls by id (in any
/// order), fails a call whose answer does not come within its timeout, and fails every call
/// still waiting when the connection goes away.
///
/// One timer per connection, not one per call: it is armed for the earliest deadline of the
/// calls waiting, and when it fires it fails those whose time is up and arms itself for the
/// next. An answer only removes its call. A timer per call was a scheduled task, a promise and
/// its future made and cancelled for every request kmsd sends kms-cryptod (about 3 % of kmsd's
/// allocations under load), for a timeout that almost never fires.
public final class RPCClientHandler: ChannelDuplexHandler {
    /// Answers and connection-level errors, from the frame decoder.
    public typealias InboundIn = RPCEnvelope
    /// Calls written by `RPCClientConnection`.
    public typealias OutboundIn = RPCOutboundCall
    /// Requests, to the frame encoder.
    public typealias OutboundOut = RPCEnvelope

    private struct Pending {
        let method: String
        let promise: EventLoopPromise<Data>
        let deadline: NIODeadline
    }

    private let maxFrameLength: Int
    private var pending: [UInt64: Pending] = [:]
    /// The timer and the deadline it is armed for (nil: none armed); never later than the
    /// earliest deadline of `pending`.
    private var timer: (scheduled: Scheduled<Void>, deadline: NIODeadline)?
    private var nextID: UInt64 = 1
    private let flush = CoalescedFlush()
    /// Set once the connection is unusable; later calls fail at once with it.
    private var terminalError: RPCError?

    /// `maxFrameLength` must match the framing's: a request too large for it fails here, unsent.
    public init(maxFrameLength: Int) {
        self.maxFrameLength = maxFrameLength
    }

    /// Calls sent and not yet answered, failed or timed out; read it on the channel's event loop.
    public var inFlightCount: Int { self.pending.count }

    /// Sends the call under a fresh id and starts its timeout; fails it at once when the connection is
    /// already unusable or the request exceeds the frame limit.
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
                    "the \(call.method) request of \(call.payload.count) bytes exceeds the frame limit of "
                    + "\(self.maxFrameLength) bytes"
            )
            call.promise.fail(error)
            promise?.fail(error)
            return
        }

        let id = self.nextID
        self.nextID = self.nextID == .max ? 1 : self.nextID + 1
        let deadline = context.eventLoop.now + call.timeout
        self.pending[id] = Pending(method: call.method, promise: call.promise, deadline: deadline)
        if let timer = self.timer, timer.deadline <= deadline {
            // Armed early enough: the usual case, every call on a link having the same timeout.
        } else {
            self.arm(context, at: deadline)
        }

        var envelope = RPCEnvelope()
        envelope.requestID = id
        envelope.method = call.method
        envelope.payload = call.payload
        context.write(Self.wrapOutboundOut(envelope), promise: promise)
        self.flush.schedule(context)
    }

    /// Completes the call the answer's id names; an answer to a call that timed out is dropped.
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
        switch envelope.body {
        case .error(let body):
            call.promise.fail(RPCError(body))
        case .payload(let payload):
            call.promise.succeed(payload)
        case nil:
            call.promise.succeed(Data())
        }
    }

    /// A framing error fails every waiting call with its `RPCError`; any error closes the connection.
    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? RPCFrameError {
            self.failAll(frameError.rpcError)
        }
        context.close(promise: nil)
    }

    /// Fails every waiting call with `ConnectionClosedException`: the request may or may not have run.
    public func channelInactive(context: ChannelHandlerContext) {
        self.failAll(.connectionClosed())
        context.fireChannelInactive()
    }

    private func failAll(_ error: RPCError) {
        self.terminalError = self.terminalError ?? .connectionClosed()
        self.timer?.scheduled.cancel()
        self.timer = nil
        let calls = self.pending
        self.pending.removeAll()
        for call in calls.values {
            call.promise.fail(error)
        }
    }

    /// (Re)arms the connection's one timer for `deadline`.
    private func arm(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        self.timer?.scheduled.cancel()
        let scheduled = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timer = nil
            self.expire(context)
        }
        self.timer = (scheduled, deadline)
    }

    /// Fails the calls whose deadline has passed and arms the timer for the earliest left.
    private func expire(_ context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        let expired = self.pending.filter { $0.value.deadline <= now }
        for id in expired.keys {
            self.pending.removeValue(forKey: id)
        }
        if let next = self.pending.values.lazy.map(\.deadline).min() {
            self.arm(context, at: next)
        }
        for call in expired.values {
            call.promise.fail(RPCError.timeout(method: call.method))
        }
    }
}
