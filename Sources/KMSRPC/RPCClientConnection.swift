import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SwiftProtobuf

/// One client connection of a framed RPC link, safe to share between tasks: calls from any
/// number of tasks are pipelined over it and answered in whatever order the server finishes.
public final class RPCClientConnection: Sendable {
    /// The NIO channel underneath; closing it fails every call still waiting.
    public let channel: any Channel
    /// The limits this connection was opened with (frame size, default call timeout).
    public let configuration: RPCConfiguration
    /// The principal the server says this connection acts as (authenticated links only).
    public let principalARN: String?

    init(channel: any Channel, configuration: RPCConfiguration, principalARN: String? = nil) {
        self.channel = channel
        self.configuration = configuration
        self.principalARN = principalARN
    }

    /// Connects to a server on a Unix domain socket (the kmsd ↔ kms-cryptod link), checking
    /// the server's credentials with `peerCheck` (`RPCPeerCredentials`) when given.
    public static func connect(
        unixDomainSocketPath path: String,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        peerCheck: RPCPeerCredentials.Check? = nil
    ) async throws -> RPCClientConnection {
        try await Self.connect(
            to: SocketAddress(unixDomainSocketPath: path), configuration: configuration, group: group,
            peerCheck: peerCheck)
    }

    /// Connects to a server at `address` (TCP or Unix domain socket): over TLS when `tls` is
    /// given (verifying the server as `serverHostname`), and answering the server's challenge with
    /// `handshake` when given; it returns once the server has accepted the answer.
    ///
    /// `peerCheck` runs once the socket is connected and before a byte is written: a connection
    /// it fails is closed and the error thrown, so nothing is ever sent to a peer it refuses.
    public static func connect(
        to address: SocketAddress,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        tls: NIOSSLContext? = nil,
        serverHostname: String? = nil,
        handshake: RPCClientHandshake? = nil,
        peerCheck: RPCPeerCredentials.Check? = nil
    ) async throws -> RPCClientConnection {
        let authenticated = group.any().makePromise(of: String.self)
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    if let tls {
                        try operations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try operations.addRPCFraming(maxFrameLength: configuration.maxFrameLength)
                    let makeClientHandler = { RPCClientHandler(maxFrameLength: configuration.maxFrameLength) }
                    if let handshake {
                        try operations.addHandler(
                            RPCClientHandshakeHandler(
                                handshake: handshake, authenticated: authenticated,
                                timeout: configuration.handshakeTimeout,
                                usesTLS: tls != nil, makeClientHandler: makeClientHandler
                            ))
                    } else {
                        try operations.addHandler(makeClientHandler())
                    }
                }
            }
        if address.protocol != .unix {
            bootstrap = bootstrap.channelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(to: address).get()
        } catch {
            authenticated.fail(error)
            throw error
        }
        if let peerCheck {
            do {
                try await peerCheck(channel).get()
            } catch {
                authenticated.fail(error)
                try? await channel.close()
                throw error
            }
        }
        guard handshake != nil else {
            authenticated.succeed("")
            return RPCClientConnection(channel: channel, configuration: configuration)
        }
        let principal = try await authenticated.futureResult.get()
        return RPCClientConnection(channel: channel, configuration: configuration, principalARN: principal)
    }

    /// False once the connection has closed; a pool replaces it on next use.
    public var isActive: Bool { self.channel.isActive }

    /// Sends one request and waits for its answer. Throws the server's `RPCError`, or a local
    /// one when the connection closes, the timeout passes or the calling task is cancelled.
    public func call(method: String, payload: [UInt8], timeout: TimeAmount? = nil) async throws -> [UInt8] {
        [UInt8](try await self.call(method: method, data: Data(payload), timeout: timeout))
    }

    /// The same with the payloads as Data, as the envelope carries them (no copy either way).
    public func call(method: String, data payload: Data, timeout: TimeAmount? = nil) async throws -> Data {
        let promise = self.channel.eventLoop.makePromise(of: Data.self)
        let call = RPCOutboundCall(
            method: method,
            payload: payload,
            timeout: timeout ?? self.configuration.defaultTimeout,
            promise: promise
        )
        // The client handler flushes once per event-loop turn; no flush per call.
        if self.channel.eventLoop.inEventLoop, self.channel.isActive {
            // The write reaches RPCClientHandler, which ends the call whatever becomes of the
            // write (its answer, its timeout or the connection's end): no write promise to make,
            // chain to the others of a vector write and complete per call (five of the hundred
            // or so allocations kmsd made a request under load).
            self.channel.write(call, promise: nil)
        } else {
            self.channel.write(call).whenFailure { error in
                promise.fail((error as? RPCError) ?? RPCError.connectionClosed())
            }
        }
        return try await withTaskCancellationHandler {
            // Not the future's get(): NIO's async functions hop to the generic executor and back
            // on every call; this continuation resumes where the caller runs.
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Data, any Error>) in
                promise.futureResult.whenComplete { continuation.resume(with: $0) }
            }
        } onCancel: {
            promise.fail(CancellationError())
        }
    }

    /// Sends a typed request and decodes the typed answer.
    public func call<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        _ request: Request,
        timeout: TimeAmount? = nil
    ) async throws -> Response {
        let payload: Data = try request.serializedBytes()
        let answer = try await self.call(method: method.name, data: payload, timeout: timeout)
        do {
            return try Response(serializedBytes: answer)
        } catch {
            throw RPCError.serialization("the \(method.name) response is not a valid \(Response.protoMessageName)")
        }
    }

    /// Closes the connection; calls still waiting fail with `ConnectionClosedException`.
    public func close() async {
        try? await self.channel.close()
    }
}
