import KMSClient
import KMSProto
import KMSRPC
import Logging
import NIOCore
import Synchronization
import Testing

/// KMSClient against an in-process server whose answers the test scripts.
@Suite struct KMSClientRetryTests {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func next() -> Int { self.value.wrappingAdd(1, ordering: .relaxed).newValue }
        var count: Int { self.value.load(ordering: .relaxed) }
    }

    static func server(_ register: (inout RPCHandlerTable) -> Void) async throws -> RPCServer {
        var table = RPCHandlerTable()
        register(&table)
        // kmsd always authenticates; this one lets anybody in, as insecure development mode does.
        let authentication = RPCServerAuthentication(anonymousAllowed: true) { _ in
            RPCIdentity(principalARN: "arn:aws:iam::111122223333:root", method: .anonymous)
        }
        return try await RPCServer.bind(
            to: SocketAddress(ipAddress: "127.0.0.1", port: 0), table: table, logger: Logger(label: "test"),
            authentication: authentication
        )
    }

    static func client(_ server: RPCServer, timeout: TimeAmount = .seconds(5)) throws -> KMSClient {
        var configuration = KMSClient.Configuration()
        configuration.baseBackoff = .milliseconds(1)
        configuration.maxAttempts = 4
        configuration.timeout = timeout
        return try KMSClient(endpoint: "127.0.0.1:\(server.localAddress!.port!)", configuration: configuration)
    }

    @Test func retriesRetryableErrorsUntilSuccess() async throws {
        let calls = Counter()
        let server = try await Self.server { table in
            table.register(KMSMethod.generateRandom) { _, _ in
                if calls.next() < 3 { throw RPCError(code: "ThrottlingException", message: "slow down", retryable: true) }
                var response = KMSGenerateRandomResponse()
                response.plaintext = .init([1, 2])
                return response
            }
        }
        let client = try Self.client(server)
        #expect(try await client.call(KMSMethod.generateRandom, KMSGenerateRandomRequest()).plaintext == .init([1, 2]))
        #expect(calls.count == 3)
        await client.close()
        await server.close()
    }

    @Test func doesNotRetryAnErrorThatIsNotRetryable() async throws {
        let calls = Counter()
        let server = try await Self.server { table in
            table.register(KMSMethod.describeKey) { _, _ in
                _ = calls.next()
                throw RPCError(code: "NotFoundException", message: "no such key")
            }
        }
        let client = try Self.client(server)
        await #expect(throws: KMSClientError(code: "NotFoundException", message: "no such key", retryable: false)) {
            _ = try await client.call(KMSMethod.describeKey, KMSDescribeKeyRequest())
        }
        #expect(calls.count == 1)
        await client.close()
        await server.close()
    }

    @Test func givesUpAfterMaxAttempts() async throws {
        let calls = Counter()
        let server = try await Self.server { table in
            table.register(KMSMethod.encrypt) { _, _ in
                _ = calls.next()
                throw RPCError(code: "KMSInternalException", message: "busy", retryable: true)
            }
        }
        let client = try Self.client(server)
        await #expect(throws: KMSClientError.self) { _ = try await client.call(KMSMethod.encrypt, KMSEncryptRequest()) }
        #expect(calls.count == 4)
        await client.close()
        await server.close()
    }

    @Test func aTimedOutCreateKeyIsNotSentTwice() async throws {
        let calls = Counter()
        let server = try await Self.server { table in
            table.register(KMSMethod.createKey) { _, _ in
                _ = calls.next()
                try await Task.sleep(for: .seconds(5))
                return KMSCreateKeyResponse()
            }
            table.register(KMSMethod.describeKey) { _, _ in
                _ = calls.next()
                try await Task.sleep(for: .seconds(5))
                return KMSDescribeKeyResponse()
            }
        }
        let client = try Self.client(server, timeout: .milliseconds(300))
        await #expect(throws: KMSClientError.self) { _ = try await client.call(KMSMethod.createKey, KMSCreateKeyRequest()) }
        // On a loaded machine the server may see the request late: give it time, then count.
        try await Task.sleep(for: .milliseconds(500))
        #expect(calls.count == 1)
        // An idempotent operation is tried again after a timeout.
        await #expect(throws: KMSClientError.self) { _ = try await client.call(KMSMethod.describeKey, KMSDescribeKeyRequest()) }
        try await Task.sleep(for: .milliseconds(500))
        #expect(calls.count == 5)
        await client.close()
        await server.close()
    }

    @Test func anUnreachableEndpointFailsWithAConnectionError() async throws {
        var configuration = KMSClient.Configuration()
        configuration.maxAttempts = 2
        configuration.baseBackoff = .milliseconds(1)
        let client = try KMSClient(endpoint: "127.0.0.1:1", configuration: configuration)
        do {
            _ = try await client.call(KMSMethod.listKeys, KMSListKeysRequest())
            Issue.record("succeeded")
        } catch {
            #expect(error.code == "ConnectionFailedException")
            #expect(error.retryable)
        }
        #expect(throws: KMSClientError.self) { try KMSClient(endpoint: "no-port") }
    }
}
