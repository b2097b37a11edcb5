import Foundation
import Logging
import NIOCore

/// Serves requests on one connection: decodes nothing itself (the frame decoder sits before it),
/// runs each request as its own task so that many are in flight and answered out of order (a
/// handler registered inline is answered as it is read, without a task), and
/// runs at most `maxInFlightPerConnection` at once. Past that it stops reading from the peer, and
/// the requests one read already brought (a read holds up to hundreds of small frames) wait
/// here as frames, not as tasks: under overload each connection's work stays bounded, and the
/// backlog stays in the peer's socket, not in kmsd's memory.
public final class RPCServerHandler: ChannelDuplexHandler {
    /// Requests, from the frame decoder (or the authentication handler once it has let the peer in).
    public typealias InboundIn = RPCEnvelope
    /// Envelopes passed through on their way out.
    public typealias OutboundIn = RPCEnvelope
    /// Answers and error frames, to the frame encoder.
    public typealias OutboundOut = RPCEnvelope

    private let table: RPCHandlerTable
    private let configuration: RPCConfiguration
    private let connection: RPCConnectionInfo
    private let logger: Logger

    private var inFlight: [UInt64: Task<Void, Never>] = [:]
    /// Requests read while `inFlight` was full, started in order as running ones finish.
    private var waiting = CircularBuffer<RPCEnvelope>()
    private var readPending = false
    private var hasRoom: Bool { self.inFlight.count < self.configuration.maxInFlightPerConnection }
    /// A new request waits (and reading stops) while the limit is reached or others wait before it.
    private var mustWait: Bool { !self.hasRoom || !self.waiting.isEmpty }
    private var closing = false
    /// Set by a graceful shutdown (`ChannelShouldQuiesceEvent`): requests already read are
    /// served, new ones refused, and the connection closes once the last answer is written.
    private var draining = false
    private var lastWrite: EventLoopFuture<Void>?
    private let flush = CoalescedFlush()
    private var executor: EventLoopTaskExecutor?

    /// A handler for one connection, serving `table` as `connection`'s peer.
    public init(table: RPCHandlerTable, configuration: RPCConfiguration, connection: RPCConnectionInfo, logger: Logger)
    {
        self.table = table
        self.configuration = configuration
        self.connection = connection
        self.logger = logger
    }

    /// Starts the request as a task, or queues it when the connection is at its in-flight limit.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard !self.closing else { return }
        if self.draining {
            self.refuseWhileDraining(envelope, context: context)
            return
        }
        if self.mustWait {
            self.waiting.append(envelope)
            return
        }
        self.start(envelope, context: context)
    }

    private func start(_ envelope: RPCEnvelope, context: ChannelHandlerContext) {
        let id = envelope.requestID
        guard id != 0, !envelope.isError else {
            // Clients never send errors, and id 0 is reserved: the peer is not speaking the protocol.
            self.fail(context: context, error: .serialization("requests need a non-zero id and no error body"))
            return
        }
        guard self.inFlight[id] == nil else {
            self.answer(
                context: context, id: id, method: envelope.method,
                result: .failure(.serialization("request id \(id) is already in flight")))
            return
        }
        let requestContext = RPCRequestContext(method: envelope.method, requestID: id, connection: self.connection)
        let payload = envelope.payload
        if let inline = self.table.inlineHandler(for: envelope.method) {
            switch Result(catching: { try inline(payload, requestContext) }) {
            case .success(.answer(let answer)):
                self.answer(context: context, id: id, method: envelope.method, result: .success(answer))
            case .success(.later(let rest)):
                self.run(rest, for: requestContext, context: context)
            case .failure(let error):
                self.answer(
                    context: context, id: id, method: envelope.method, result: .failure(self.table.mapError(error)))
            }
            return
        }
        guard let handler = self.table.handler(for: envelope.method) else {
            self.answer(
                context: context, id: id, method: envelope.method,
                result: .failure(.unknownOperation(envelope.method)))
            return
        }
        self.run({ try await handler(payload, requestContext) }, for: requestContext, context: context)
    }

    /// Runs `work` as the request's task on the connection's event loop, answering when it ends.
    private func run(
        _ work: @escaping @Sendable () async throws -> Data, for request: RPCRequestContext,
        context: ChannelHandlerContext
    ) {
        let id = request.requestID
        let mapError = self.table.mapError
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let executor = self.executor ?? EventLoopTaskExecutor(eventLoop)
        self.executor = executor
        self.inFlight[id] = Task(executorPreference: executor) {
            let result: Result<Data, RPCError>
            do {
                result = .success(try await work())
            } catch {
                result = .failure(mapError(error))
            }
            if eventLoop.inEventLoop {
                let (handler, context) = loopBound.value
                handler.finish(context: context, id: id, method: request.method, result: result)
            } else {
                eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.finish(context: context, id: id, method: request.method, result: result)
                }
            }
        }
    }

    private func finish(context: ChannelHandlerContext, id: UInt64, method: String, result: Result<Data, RPCError>) {
        guard self.inFlight.removeValue(forKey: id) != nil, !self.closing else { return }
        self.answer(context: context, id: id, method: method, result: result)
        while self.hasRoom, !self.closing,
            let next = self.waiting.popFirst()
        {
            self.start(next, context: context)
        }
        if self.readPending, !self.mustWait {
            self.readPending = false
            context.read()
        }
        self.closeIfDrained(context: context)
    }

    /// A request that arrived after the shutdown began: answered at once, retryable, so that
    /// the client sends it again on another connection (to another kmsd).
    private func refuseWhileDraining(_ envelope: RPCEnvelope, context: ChannelHandlerContext) {
        guard envelope.requestID != 0, !envelope.isError else { return }
        self.answer(
            context: context, id: envelope.requestID, method: envelope.method,
            result: .failure(
                RPCError(
                    code: RPCError.internalCode,
                    message: "the server is shutting down and takes no new requests on this connection; retry",
                    retryable: true)))
        self.closeIfDrained(context: context)
    }

    /// While draining, closes the connection once nothing is in flight or queued and every answer is written.
    private func closeIfDrained(context: ChannelHandlerContext) {
        guard self.draining, !self.closing, self.inFlight.isEmpty, self.waiting.isEmpty else { return }
        self.closing = true
        context.flush()
        guard let written = self.lastWrite else {
            context.close(promise: nil)
            return
        }
        written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// A graceful shutdown's `ChannelShouldQuiesceEvent` starts draining the connection.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.draining = true
        self.closeIfDrained(context: context)
    }

    private func answer(context: ChannelHandlerContext, id: UInt64, method: String, result: Result<Data, RPCError>) {
        var envelope = RPCEnvelope()
        envelope.requestID = id
        envelope.method = method
        switch result {
        case .success(let payload) where payload.count + 64 <= self.configuration.maxFrameLength:
            envelope.payload = payload
        case .success(let payload):
            self.logger.error(
                "response too large", metadata: ["method": .untrusted(method, limit: 64), "bytes": "\(payload.count)"])
            envelope.error = Self.body(.internal("the response exceeds the frame limit"))
        case .failure(let error):
            envelope.error = Self.body(error)
        }
        if self.draining {
            // The connection closes after its last answer: that one must be written first.
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.write(Self.wrapOutboundOut(envelope), promise: promise)
            self.lastWrite = promise.futureResult
        } else {
            context.write(Self.wrapOutboundOut(envelope), promise: nil)
        }
        self.flush.schedule(context)
    }

    /// Sends a connection-level error frame (id 0) and closes.
    private func fail(context: ChannelHandlerContext, error: RPCError) {
        guard !self.closing else { return }
        self.closing = true
        self.logger.warning(
            "closing connection after a protocol error",
            metadata: [
                "connection": "\(self.connection.id)", "code": .untrusted(error.code),
                "reason": .untrusted(error.message),
            ]
        )
        var envelope = RPCEnvelope()
        envelope.error = Self.body(error)
        context.writeAndFlush(Self.wrapOutboundOut(envelope)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// A framing error is answered with an error frame before closing; any other error just closes.
    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? RPCFrameError {
            self.fail(context: context, error: frameError.rpcError)
        } else {
            self.logger.debug(
                "connection error", metadata: ["connection": "\(self.connection.id)", "error": .untrusted("\(error)")])
            context.close(promise: nil)
        }
    }

    /// Cancels every request still running or queued: nobody is left to read the answers.
    public func channelInactive(context: ChannelHandlerContext) {
        // Nobody is left to read the answers: stop the work.
        self.closing = true
        for task in self.inFlight.values { task.cancel() }
        self.inFlight.removeAll()
        self.waiting.removeAll()
        context.fireChannelInactive()
    }

    /// Holds the read back while the connection is at its in-flight limit (back-pressure to the peer).
    public func read(context: ChannelHandlerContext) {
        if self.mustWait {
            self.readPending = true
        } else {
            context.read()
        }
    }

    static func body(_ error: RPCError) -> RPCErrorBody {
        var body = RPCErrorBody()
        body.code = error.code
        body.message = error.message
        body.retryable = error.retryable
        return body
    }
}
