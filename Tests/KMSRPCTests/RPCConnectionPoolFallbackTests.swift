import KMSRPC
import NIOCore
import Testing

/// A server that stopped accepting but still serves its open connections (kms-cryptod shutting
/// down beside kmsd): the pool serves every call on a live connection rather than failing the
/// ones whose slot had no connection yet.
@Suite struct RPCConnectionPoolFallbackTests {
    @Test func aSlotThatCannotConnectUsesALiveConnection() async throws {
        let server = try await RPCLoopbackTests.startServer()
        let address = try #require(server.localAddress)
        let pool = RPCConnectionPool(address: address, connections: 4)
        var body = RPCErrorBody()
        body.message = "before"
        // One slot connected; the other three are not yet.
        #expect(try await pool.connection().call(RPCLoopbackTests.echo, body).message == "before")
        try await server.channel.close()
        body.message = "after"
        for _ in 0..<8 {
            #expect(try await pool.connection().call(RPCLoopbackTests.echo, body).message == "after")
        }
        await pool.close()
        await server.connections.closeAll()
    }
}
