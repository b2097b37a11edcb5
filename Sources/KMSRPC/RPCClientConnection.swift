import NIOCore
import NIOPosix
import SwiftProtobuf

/// One client connection of a framed RPC link, safe to share between tasks: calls from any
/// number of tasks are pipelined over it and answered in whatever order the server finishes.
public final class RPCClientConnection: Sendable {
    public let channel: any Channel
    public let configuration: RPCConfiguration

    init(channel: any Channel, configuration: RPCConfiguration) {
        self.channel = channel
        self.configuration = configuration
    }

    /// Connects to a server on a Unix domain socket (the kmsd ↔ kms-cryptod link).
    public static func connect(
        unixDomainSocketPath path: String,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RPCClientConnection {
        try await Self.connect(to: SocketAddress(unixDomainSocketPath: path), configuration: configuration, group: group)
    }

    /// Connects to a server at `address` (TCP or Unix domain socket).
    public static func connect(
        to address: SocketAddress,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RPCClientConnection {
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addRPCFraming(maxFrameLength: configuration.maxFrameLength)
                    try channel.pipeline.syncOperations.addHandler(
                        RPCClientHandler(maxFrameLength: configuration.maxFrameLength)
                    )
                }
            }
        if address.protocol != .unix {
            bootstrap = bootstrap.channelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        let channel = try await bootstrap.connect(to: address).get()
        return RPCClientConnection(channel: channel, configuration: configuration)
    }

    public var isActive: Bool { self.channel.isActive }

    /// Sends one request and waits for its answer. Throws the server's `RPCError`, or a local
    /// one when the connection closes, the timeout passes or the calling task is cancelled.
    public func call(method: String, payload: [UInt8], timeout: TimeAmount? = nil) async throws -> [UInt8] {
        let promise = self.channel.eventLoop.makePromise(of: [UInt8].self)
        let call = RPCOutboundCall(
            method: method,
            payload: payload,
            timeout: timeout ?? self.configuration.defaultTimeout,
            promise: promise
        )
        // The client handler flushes once per event-loop turn; no flush per call.
        self.channel.write(call).whenFailure { error in
            promise.fail((error as? RPCError) ?? RPCError.connectionClosed())
        }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
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
        let answer = try await self.call(method: method.name, payload: try request.serializedBytes(), timeout: timeout)
        do {
            return try Response(serializedBytes: answer)
        } catch {
            throw RPCError.serialization("the \(method.name) response is not a valid \(Response.protoMessageName)")
        }
    }

    public func close() async {
        try? await self.channel.close()
    }
}
