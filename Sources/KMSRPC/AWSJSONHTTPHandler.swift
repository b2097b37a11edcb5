import Foundation
import KMSDomain
import NIOCore
import NIOHTTP1

/// An HTTP request, gathered whole.
public struct HTTPRequest: Sendable {
    /// The HTTP method, as received ("POST").
    public var method: String
    /// The request target, path and query, as received.
    public var uri: String
    /// In the order received, names as sent.
    public var headers: [(name: String, value: String)]
    /// The whole body.
    public var body: [UInt8]

    /// A request as received.
    public init(method: String, uri: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }

    /// The first header of that name (lower case), if any.
    public func header(_ name: String) -> String? {
        self.headers.first { ASCIICase.equal($0.name, lowercase: name) }?.value
    }

    /// How many headers of that name (lower case) there are.
    public func count(_ name: String) -> Int {
        self.headers.reduce(0) { $0 + (ASCIICase.equal($1.name, lowercase: name) ? 1 : 0) }
    }
}

/// An AWS JSON 1.1 answer: a status, the request id, a JSON body.
public struct AWSJSONAnswer: Sendable {
    /// 200, or the status AWS gives the error.
    public var status: HTTPResponseStatus
    /// Sent as x-amzn-RequestId.
    public var requestID: String
    /// The JSON body.
    public var body: Data

    /// An answer as given.
    public init(status: HTTPResponseStatus, requestID: String, body: Data) {
        self.status = status
        self.requestID = requestID
        self.body = body
    }

    /// The exceptions AWS KMS answers with no message at all: a caller learns nothing more from
    /// a bad ciphertext, signature or MAC than that it is bad.
    public static let silentCodes: Set<String> = [
        "InvalidCiphertextException", "KMSInvalidSignatureException", "KMSInvalidMacException",
    ]

    /// AWS's status for an error code, the one mapping kmsd and kms-agent answer with: client
    /// errors 400, a request without credentials 403, a dry run that would have succeeded 412 (as
    /// the KMS API reference lists it), the service's own failures 5xx (which SDKs retry).
    public static func status(forCode code: String) -> HTTPResponseStatus {
        switch code {
        case "DryRunOperationException": .preconditionFailed
        case "KMSInternalException", "KeyUnavailableException": .internalServerError
        case "DependencyTimeoutException": .serviceUnavailable
        case "MissingAuthenticationTokenException": .forbidden
        default: .badRequest
        }
    }

    /// An AWS error body: `{"__type": code, "message": message}`, or only `{"__type": code}` for
    /// `silentCodes` and empty messages.
    public static func error(requestID: String, status: HTTPResponseStatus, code: String, message: String) -> Self {
        var object: [String: String] = ["__type": code]
        if !message.isEmpty, !silentCodes.contains(code) { object["message"] = message }
        let body =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return AWSJSONAnswer(status: status, requestID: requestID, body: body)
    }
}

/// What an AWS JSON endpoint accepts of a client before it answers or closes the connection.
public struct AWSJSONLimits: Sendable {
    /// The largest request body accepted; AWS KMS requests are a few KiB at most.
    public var maxBodyBytes = 64 * 1024
    /// A request whose head and body do not arrive within this is answered 408 and closed, so
    /// that a slow or half-sent request holds nothing for long.
    public var requestTimeout: TimeAmount = .seconds(10)
    /// An idle keep-alive connection is closed after this.
    public var idleTimeout: TimeAmount = .seconds(60)

    /// The defaults: 64 KiB bodies, 10 s to send a request, 60 s idle.
    public init() {}
}

/// One HTTP/1.1 connection of an AWS JSON endpoint (kmsd's, kms-agent's): gathers each request
/// within the size and time limits, answers it through `respond`, keeps the connection alive when
/// the client asks. Added after NIO's HTTP server pipeline and an IdleStateHandler.
public final class AWSJSONHTTPHandler: ChannelInboundHandler {
    /// The parts NIO's HTTP server pipeline decodes.
    public typealias InboundIn = HTTPServerRequestPart
    /// The parts it encodes.
    public typealias OutboundOut = HTTPServerResponsePart

    private let limits: AWSJSONLimits
    private let newRequestID: @Sendable () -> String
    private let respond: @Sendable (HTTPRequest) async -> AWSJSONAnswer
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var refused = false
    private var deadline: Scheduled<Void>?
    /// When the head of the request being gathered came: its arrival deadline runs from there.
    private var headArrived: NIODeadline?
    /// The connection's loop as a task executor, made once: every request's task runs there.
    private var executor: EventLoopTaskExecutor?

    /// A handler answering each request with `respond`; `newRequestID` names the answers it gives
    /// itself (408, 413).
    public init(
        limits: AWSJSONLimits, newRequestID: @escaping @Sendable () -> String,
        respond: @escaping @Sendable (HTTPRequest) async -> AWSJSONAnswer
    ) {
        self.limits = limits
        self.newRequestID = newRequestID
        self.respond = respond
    }

    /// Adds NIO's HTTP/1.1 server handlers (errors answered, pipelined requests in order) with
    /// `HTTPReadKeeper` among them and, over TLS, `WriteGathering` below them: call it after
    /// adding the TLS handler, if any, and before the `IdleStateHandler` and this handler. The
    /// answers' headers are this handler's own, never a client's, so NIO's check of outbound
    /// headers is left out.
    public static func addHTTPServerHandlers(to operations: ChannelPipeline.SynchronousOperations, overTLS: Bool)
        throws
    {
        if overTLS { try operations.addHandler(WriteGathering()) }
        try operations.configureHTTPServerPipeline(withErrorHandling: true, withOutboundHeaderValidation: false)
        try operations.addHandler(
            HTTPReadKeeper(), position: .before(try operations.handler(type: HTTPServerPipelineHandler.self)))
    }

    /// Gathers a request's head and body, and answers it once it is whole.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.headArrived = context.eventLoop.now
            self.body.removeAll(keepingCapacity: true)
            self.refused = false
            if let length = head.headers.first(name: "content-length").flatMap(Int.init),
                length > self.limits.maxBodyBytes
            {
                self.refuseTooLarge(context: context)
            }
        case .body(var buffer):
            guard !self.refused, self.head != nil else { return }
            guard self.body.count + buffer.readableBytes <= self.limits.maxBodyBytes else {
                self.refuseTooLarge(context: context)
                return
            }
            self.body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard !self.refused, let head = self.head else { return }
            self.head = nil
            self.headArrived = nil
            // The deadline is for the request's arrival: a slow operation (an RSA-4096 CreateKey)
            // must not be answered 408 while it goes on and succeeds.
            self.deadline?.cancel()
            self.deadline = nil
            let request = HTTPRequest(
                method: head.method.rawValue, uri: head.uri,
                headers: head.headers.map { (name: $0.name, value: $0.value) }, body: self.body
            )
            self.body = []
            let keepAlive = head.isKeepAlive
            let respond = self.respond
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            // On the connection's own loop, as the binary protocol's requests run: no hop to Swift's
            // global pool and back for each request.
            let executor = self.executor ?? EventLoopTaskExecutor(eventLoop)
            self.executor = executor
            Task(executorPreference: executor) {
                let response = await respond(request)
                if eventLoop.inEventLoop {
                    let (handler, context) = loopBound.value
                    handler.send(context: context, response, keepAlive: keepAlive)
                } else {
                    eventLoop.execute {
                        let (handler, context) = loopBound.value
                        handler.send(context: context, response, keepAlive: keepAlive)
                    }
                }
            }
        }
    }

    private func refuseTooLarge(context: ChannelHandlerContext) {
        self.refused = true
        self.body = []
        self.send(
            context: context,
            .error(
                requestID: self.newRequestID(), status: .payloadTooLarge, code: "SerializationException",
                message: "the request body exceeds \(self.limits.maxBodyBytes) bytes"
            ), keepAlive: false)
    }

    private func send(context: ChannelHandlerContext, _ response: AWSJSONAnswer, keepAlive: Bool) {
        self.deadline?.cancel()
        self.deadline = nil
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "x-amzn-RequestId", value: response.requestID)
        headers.add(name: "Content-Type", value: "application/x-amz-json-1.1")
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))),
            promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
        guard !keepAlive else {
            // Nothing waits for a kept-alive answer's write: no promise to make and complete.
            context.write(Self.wrapOutboundOut(.end(nil)), promise: nil)
            context.flush()
            return
        }
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// A request still partly unread when a read burst ends gets its arrival deadline. Most
    /// requests arrive whole in one read, and for those no timer is armed and cancelled.
    public func channelReadComplete(context: ChannelHandlerContext) {
        if let arrived = self.headArrived, self.deadline == nil, !self.refused {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            self.deadline = context.eventLoop.scheduleTask(deadline: arrived + self.limits.requestTimeout) {
                let (handler, context) = loopBound.value
                handler.headArrived = nil
                handler.send(
                    context: context,
                    .error(
                        requestID: handler.newRequestID(), status: .requestTimeout, code: "RequestTimeoutException",
                        message: "the request did not arrive in time"), keepAlive: false)
            }
        }
        context.fireChannelReadComplete()
    }

    /// An idle connection is closed.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// The request's arrival deadline goes with the connection.
    public func channelInactive(context: ChannelHandlerContext) {
        self.deadline?.cancel()
        context.fireChannelInactive()
    }
}
