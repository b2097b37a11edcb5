import KMSRPC
import Logging
import NIOCore
import NIOPosix
import Testing

/// Server and client over real TCP sockets on 127.0.0.1.
@Suite struct RPCLoopbackTests {
    static let echo = RPCMethod<RPCErrorBody, RPCErrorBody>("Echo")

    static func startServer() async throws -> RPCServer {
        var table = RPCHandlerTable()
        table.register(Self.echo) { request, _ in
            // Answer in a scrambled order relative to arrival.
            try await Task.sleep(for: .microseconds(Int.random(in: 0...2000)))
            return request
        }
        return try await RPCServer.bind(
            to: SocketAddress(ipAddress: "127.0.0.1", port: 0),
            table: table,
            logger: Logger(label: "test")
        )
    }

    @Test func pipelinesManyConcurrentCallsOverOneConnection() async throws {
        let server = try await Self.startServer()
        let client = try await RPCClientConnection.connect(to: try #require(server.localAddress))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<500 {
                group.addTask {
                    var body = RPCErrorBody()
                    body.message = "call \(index)"
                    let answer = try await client.call(Self.echo, body)
                    #expect(answer.message == "call \(index)")
                }
            }
            try await group.waitForAll()
        }
        await client.close()
        await server.close()
    }

    @Test func aMalformedFrameOnOneConnectionLeavesTheOthersServing() async throws {
        let server = try await Self.startServer()
        let address = try #require(server.localAddress)
        let good = try await RPCClientConnection.connect(to: address)
        _ = try await good.call(Self.echo, RPCErrorBody())

        // A raw connection that sends a huge length prefix, then garbage.
        let bad = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(to: address).get()
        var header = ByteBuffer()
        header.writeInteger(UInt32.max)
        try await bad.writeAndFlush(header)
        try await bad.closeFuture.get()  // the server closed it

        var body = RPCErrorBody()
        body.message = "still here"
        #expect(try await good.call(Self.echo, body).message == "still here")
        await good.close()
        await server.close()
    }

    @Test func callsFailCleanlyWhenTheServerGoesAway() async throws {
        var table = RPCHandlerTable()
        table.register(Self.echo) { request, _ in
            try await Task.sleep(for: .seconds(30))
            return request
        }
        let server = try await RPCServer.bind(
            to: SocketAddress(ipAddress: "127.0.0.1", port: 0), table: table, logger: Logger(label: "test")
        )
        let client = try await RPCClientConnection.connect(to: try #require(server.localAddress))
        let pending = Task { try await client.call(Self.echo, RPCErrorBody()) }
        try await Task.sleep(for: .milliseconds(50))
        // Close the client's socket under it: the waiting call must fail, not hang.
        try await client.channel.close()
        await #expect(throws: RPCError.connectionClosed()) { _ = try await pending.value }
        await #expect(throws: RPCError.connectionClosed()) { _ = try await client.call(Self.echo, RPCErrorBody()) }
        await server.close()
    }
}
