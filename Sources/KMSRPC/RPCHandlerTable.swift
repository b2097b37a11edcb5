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

    private var handlers: [String: RawHandler] = [:]
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
            let request: Request
            do {
                request = try Request(serializedBytes: payload)
            } catch {
                throw RPCError.serialization("the \(method.name) request is not a valid \(Request.protoMessageName)")
            }
            // Data in and out: the envelope carries its payload as Data, so neither side copies it
            // into an array and back.
            return try await handler(request, context).serializedBytes()
        }
        self.messageHandlers[method.name] = { message, context in
            guard let request = message as? Request else {
                throw RPCError.serialization("the \(method.name) request is not a \(Request.protoMessageName)")
            }
            return try await handler(request, context)
        }
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

    /// The message handler of a method registered typed (`register`) or unavailable; nil for
    /// raw and unknown methods.
    public func messageHandler(for method: String) -> MessageHandler? {
        self.messageHandlers[method]
    }

    /// Every registered method name, sorted.
    public var methods: [String] { self.handlers.keys.sorted() }
}
