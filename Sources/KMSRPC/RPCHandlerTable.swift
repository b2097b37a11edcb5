import Foundation
import NIOCore
import SwiftProtobuf

/// What a handler knows about the request it serves.
public struct RPCRequestContext: Sendable {
    /// The rpc's name as the client sent it.
    public let method: String
    /// The id the client chose, unique among its connection's requests in flight (not across connections).
    public let requestID: UInt64
    /// The connection the request came on, with who authenticated on it.
    public let connection: RPCConnectionInfo
    /// The id the caller was given for this request by a front end that gives one (the AWS
    /// JSON endpoint's x-amzn-RequestId), so that logs and records use the same id.
    public let externalID: String?

    /// For front ends other than the binary protocol (the AWS JSON endpoint) that dispatch
    /// through the same table.
    public init(method: String, requestID: UInt64, connection: RPCConnectionInfo, externalID: String? = nil) {
        self.method = method
        self.requestID = requestID
        self.connection = connection
        self.externalID = externalID
    }
}

/// What the server knows about one accepted connection.
public struct RPCConnectionInfo: Sendable {
    /// Unique within the server process, for logs.
    public let id: UInt64
    /// The peer's address; an IPv4 client of a dual-stack listener as its IPv4 address, not
    /// as `::ffff:a.b.c.d` (`SocketAddress.unmappingIPv4`).
    public let remoteAddress: SocketAddress?
    /// The peer's address as text (what `aws:SourceIp` and the audit log see), formatted once
    /// per connection rather than per request.
    public let remoteIP: String?
    /// True when the connection runs over TLS.
    public let secureTransport: Bool
    /// Who authenticated on this connection; nil on servers without authentication (the
    /// kmsd ↔ kms-cryptod link, whose peer is checked by its Unix uid instead).
    public internal(set) var identity: RPCIdentity?

    /// `remoteAddress` is stored with an IPv4-mapped IPv6 address unmapped.
    public init(id: UInt64, remoteAddress: SocketAddress?, secureTransport: Bool = false, identity: RPCIdentity? = nil)
    {
        self.id = id
        let remote = remoteAddress?.unmappingIPv4
        self.remoteAddress = remote
        self.remoteIP = remote?.ipAddress
        self.secureTransport = secureTransport
        self.identity = identity
    }

    /// The same connection with `identity` as who authenticated: for a front end that
    /// authenticates each request (the AWS JSON endpoint) on a connection described once.
    public func authenticated(as identity: RPCIdentity) -> RPCConnectionInfo {
        var connection = self
        connection.identity = identity
        return connection
    }
}

/// The server's dispatch table: method name → handler. Built once at start, then read-only.
public struct RPCHandlerTable: Sendable {
    /// Serves one request: the serialized request message in, the serialized response out.
    public typealias RawHandler = @Sendable (Data, RPCRequestContext) async throws -> Data

    /// Serves one request already in its message (a front end that decodes another form, as
    /// the AWS JSON endpoint decodes JSON): the response message out. The same handler as the
    /// raw one, without the request's encoding and decoding and the response's between them.
    public typealias MessageHandler =
        @Sendable (any SwiftProtobuf.Message, RPCRequestContext) async throws -> any SwiftProtobuf.Message

    /// Starts one request on the connection's event loop, without a task of its own: its answer,
    /// or the rest of its work to run as the request's task (work that waits, as a thread pool's).
    public typealias InlineHandler = @Sendable (Data, RPCRequestContext) throws -> RPCInlineOutcome<Data>

    private var handlers: [String: RawHandler] = [:]
    private var inlineHandlers: [String: InlineHandler] = [:]
    private var messageHandlers: [String: MessageHandler] = [:]
    /// Turns whatever a handler throws into the error sent back. Anything it does not recognise
    /// must become a generic internal error, so that no detail of a failure leaks to the peer.
    public let mapError: @Sendable (any Error) -> RPCError

    /// An empty table; `mapError` decides what peers are told about failures.
    public init(mapError: @escaping @Sendable (any Error) -> RPCError = RPCHandlerTable.defaultErrorMapping) {
        self.mapError = mapError
    }

    /// `KMSError` and `RPCError` go through as they are; anything else becomes `KMSInternalException`.
    public static let defaultErrorMapping: @Sendable (any Error) -> RPCError = { RPCError(answering: $0) }

    /// Registers a typed handler. The request is decoded before the handler runs; a payload
    /// that is not a valid `Request` is answered with `SerializationException`.
    public mutating func register<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCRequestContext) async throws -> Response
    ) {
        precondition(self.handlers[method.name] == nil, "\(method.name) registered twice")
        self.handlers[method.name] = { payload, context in
            let request = try Self.decode(payload, of: method)
            // Data in and out: the envelope carries its payload as Data, so neither side copies it
            // into an array and back.
            return try await handler(request, context).serializedBytes()
        }
        self.messageHandlers[method.name] = { message, context in
            try await handler(try Self.cast(message, of: method), context)
        }
    }

    /// Registers a typed handler that the server runs inline on the connection's event loop,
    /// answering as the request is read: no task is made, scheduled and completed for it, which
    /// cost kms-cryptod about a tenth of its time on requests of a few microseconds of work. Only
    /// for handlers that never block and finish in microseconds: while one runs, every other
    /// connection of its event loop waits. Callers of `handler(for:)` see it as any other.
    public mutating func registerInline<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCRequestContext) throws -> Response
    ) {
        self.registerStartingInline(method) { request, context in .answer(try handler(request, context)) }
    }

    /// Registers a typed handler that starts inline, as `registerInline`'s do, and either answers
    /// there or hands back the rest of its work, which then runs as the request's task: for a
    /// method whose cheap cases (AES-GCM) need no task and whose dear ones (RSA) wait for a pool.
    public mutating func registerStartingInline<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCRequestContext) throws -> RPCInlineOutcome<Response>
    ) {
        self.registerRawStartingInline(method.name) { payload, context in
            try handler(try Self.decode(payload, of: method), context).map { try $0.serializedBytes() }
        }
        self.messageHandlers[method.name] = { message, context in
            try await handler(try Self.cast(message, of: method), context).value()
        }
    }

    /// Registers an untyped handler that runs inline (see `registerInline`).
    public mutating func registerRawInline(
        _ name: String, _ handler: @escaping @Sendable (Data, RPCRequestContext) throws -> Data
    ) {
        self.registerRawStartingInline(name) { payload, context in .answer(try handler(payload, context)) }
    }

    /// Registers an untyped handler that starts inline (see `registerStartingInline`).
    public mutating func registerRawStartingInline(_ name: String, _ handler: @escaping InlineHandler) {
        precondition(self.handlers[name] == nil, "\(name) registered twice")
        self.inlineHandlers[name] = handler
        self.handlers[name] = { payload, context in try await handler(payload, context).value() }
    }

    /// A payload that is not a valid `Request` is answered with `SerializationException`.
    private static func decode<Request, Response>(_ payload: Data, of method: RPCMethod<Request, Response>) throws
        -> Request
    {
        do {
            return try Request(serializedBytes: payload)
        } catch {
            throw RPCError.serialization("the \(method.name) request is not a valid \(Request.protoMessageName)")
        }
    }

    private static func cast<Request, Response>(
        _ message: any SwiftProtobuf.Message, of method: RPCMethod<Request, Response>
    )
        throws -> Request
    {
        guard let request = message as? Request else {
            throw RPCError.serialization("the \(method.name) request is not a \(Request.protoMessageName)")
        }
        return request
    }

    /// Registers an untyped handler: serialized request in, serialized response out.
    public mutating func registerRaw(_ name: String, _ handler: @escaping RawHandler) {
        precondition(self.handlers[name] == nil, "\(name) registered twice")
        self.handlers[name] = handler
    }

    /// Registers a method that exists in the service definition but always answers `error`.
    public mutating func registerUnavailable(_ name: String, error: RPCError) {
        precondition(self.handlers[name] == nil, "\(name) registered twice")
        self.handlers[name] = { _, _ in throw error }
        self.messageHandlers[name] = { _, _ in throw error }
    }

    /// The handler registered for `method`, or nil (answered with `UnknownOperationException`).
    public func handler(for method: String) -> RawHandler? {
        self.handlers[method]
    }

    /// The handler of a method registered to start inline (`registerInline`,
    /// `registerStartingInline`), or nil.
    public func inlineHandler(for method: String) -> InlineHandler? {
        self.inlineHandlers[method]
    }

    /// The message handler of a method registered typed (`register`) or unavailable; nil for
    /// raw and unknown methods.
    public func messageHandler(for method: String) -> MessageHandler? {
        self.messageHandlers[method]
    }

    /// Every registered method name, sorted.
    public var methods: [String] { self.handlers.keys.sorted() }
}

/// What a handler that starts inline gives back: its answer, or the rest of its work.
public enum RPCInlineOutcome<Value: Sendable>: Sendable {
    /// Answered inline.
    case answer(Value)
    /// The rest of the work, run as the request's task.
    case later(@Sendable () async throws -> Value)

    /// The same outcome with `transform` applied to its value, now or later.
    public func map<New: Sendable>(_ transform: @escaping @Sendable (Value) throws -> New) rethrows
        -> RPCInlineOutcome<New>
    {
        switch self {
        case .answer(let value): return .answer(try transform(value))
        case .later(let rest): return .later { try transform(try await rest()) }
        }
    }

    /// The value, waiting for the rest of the work when there is some.
    public func value() async throws -> Value {
        switch self {
        case .answer(let value): return value
        case .later(let rest): return try await rest()
        }
    }
}
