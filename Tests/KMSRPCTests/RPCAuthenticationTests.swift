import Foundation
import KMSRPC
import Logging
import NIOCore
import NIOPosix
import Testing

/// The connection handshake of the RPC layer over loopback, with a verifier the test scripts:
/// nothing is dispatched before it accepts, and what it refuses closes the connection.
@Suite struct RPCAuthenticationTests {
    static let whoAmI = RPCMethod<RPCErrorBody, RPCErrorBody>("WhoAmI")

    /// Accepts access key "GOOD" when its proof is the nonce reversed; refuses anything else.
    static func startServer(timeout: TimeAmount = .seconds(10)) async throws -> RPCServer {
        var table = RPCHandlerTable()
        table.register(Self.whoAmI) { _, context in
            var body = RPCErrorBody()
            body.message = context.connection.identity?.principalARN ?? "nobody"
            return body
        }
        let authentication = RPCServerAuthentication(timeout: timeout) { attempt in
            guard attempt.accessKeyID == "GOOD" else {
                throw RPCError(code: RPCError.unrecognizedClientCode, message: "unknown key")
            }
            guard attempt.proof == attempt.nonce.reversed() else {
                throw RPCError(code: RPCError.invalidSignatureCode, message: "bad proof")
            }
            return RPCIdentity(
                principalARN: "arn:aws:iam::111122223333:user/good", accessKeyID: "GOOD", method: .accessKey)
        }
        return try await RPCServer.bind(
            to: SocketAddress(ipAddress: "127.0.0.1", port: 0), table: table, logger: Logger(label: "test"),
            authentication: authentication
        )
    }

    static func answer(id: String, proof: @escaping @Sendable ([UInt8]) -> [UInt8]) -> RPCClientHandshake {
        { challenge in
            var answer = RPCAuthenticate()
            answer.accessKeyID = id
            answer.proof = Data(proof([UInt8](challenge.nonce)))
            return answer
        }
    }

    @Test func anAcceptedAnswerIdentifiesTheConnectionToHandlers() async throws {
        let server = try await Self.startServer()
        let address = try #require(server.localAddress)
        let client = try await RPCClientConnection.connect(
            to: address, handshake: Self.answer(id: "GOOD") { $0.reversed() })
        #expect(client.principalARN == "arn:aws:iam::111122223333:user/good")
        #expect(try await client.call(Self.whoAmI, RPCErrorBody()).message == "arn:aws:iam::111122223333:user/good")
        await client.close()
        await server.close()
    }

    @Test func refusedAnswersCloseTheConnectionWithTheVerifiersCode() async throws {
        // Which code, not how soon: handshakes get 30 s on both sides (at load average 22 one
        // took past the default 10 s, and the client saw RequestTimeoutException instead).
        let server = try await Self.startServer(timeout: .seconds(30))
        let address = try #require(server.localAddress)
        var configuration = RPCConfiguration()
        configuration.handshakeTimeout = .seconds(30)
        for (id, code) in [("BAD", RPCError.unrecognizedClientCode), ("GOOD", RPCError.invalidSignatureCode)] {
            do {
                _ = try await RPCClientConnection.connect(
                    to: address, configuration: configuration, handshake: Self.answer(id: id) { $0 })
                Issue.record("\(id) was accepted")
            } catch let error as RPCError {
                #expect(error.code == code)
            }
        }
        await server.close()
    }

    @Test func aRequestBeforeTheHandshakeIsNeverDispatched() async throws {
        let server = try await Self.startServer()
        let raw = try await RPCClientConnection.connect(to: try #require(server.localAddress))
        await #expect(throws: RPCError.self) { _ = try await raw.call(Self.whoAmI, RPCErrorBody()) }
        try await raw.channel.closeFuture.get()
        await server.close()
    }

    @Test func aSilentClientIsDisconnectedAfterTheTimeout() async throws {
        let server = try await Self.startServer(timeout: .milliseconds(200))
        let silent = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: try #require(server.localAddress)).get()
        // Reads the challenge and then the error frame; the server closes the connection.
        try await silent.closeFuture.get()
        await server.close()
    }

    /// The client answered in time; the server's own check (database, worker) is what is slow:
    /// that is no reason to tell the client its credentials are missing, nor to give up.
    @Test func aServerTooSlowToCheckAnAnswerRefusesItRetryably() async throws {
        let gate = RPCClientHandshakeDeadlineTests.Gate()
        let server = try await RPCServer.bind(
            to: SocketAddress(ipAddress: "127.0.0.1", port: 0), table: RPCHandlerTable(), logger: Logger(label: "test"),
            authentication: RPCServerAuthentication(timeout: .milliseconds(200)) { _ in
                await gate.pass()
                return RPCIdentity(principalARN: "arn:aws:iam::111122223333:user/good", method: .accessKey)
            }
        )
        do {
            _ = try await RPCClientConnection.connect(
                to: try #require(server.localAddress), handshake: Self.answer(id: "GOOD") { $0.reversed() })
            Issue.record("connected although the verifier never answered")
        } catch let error as RPCError {
            #expect(error.code == RPCError.dependencyTimeoutCode)
            #expect(error.retryable)
        }
        gate.open()
        await server.close()
    }
}
