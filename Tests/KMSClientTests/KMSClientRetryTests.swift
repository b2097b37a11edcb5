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

    static func client(_ server: RPCServer, timeout: TimeAmount = .seconds(5), connections: Int = 2) throws -> KMSClient
    {
        var configuration = KMSClient.Configuration()
        configuration.connections = connections
        configuration.baseBackoff = .milliseconds(1)
        configuration.maxAttempts = 4
        configuration.timeout = timeout
        return try KMSClient(endpoint: "127.0.0.1:\(server.localAddress!.port!)", configuration: configuration)
    }

    @Test func retriesRetryableErrorsUntilSuccess() async throws {
        let calls = Counter()
        let server = try await Self.server { table in
            table.register(KMSMethod.generateRandom) { _, _ in
                if calls.next() < 3 {
                    throw RPCError(code: "ThrottlingException", message: "slow down", retryable: true)
                }
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
        let creates = Counter()
        let describes = Counter()
        let server = try await Self.server { table in
            table.register(KMSMethod.createKey) { _, _ in
                _ = creates.next()
                try await Task.sleep(for: .seconds(5))
                return KMSCreateKeyResponse()
            }
            table.register(KMSMethod.describeKey) { _, _ in
                _ = describes.next()
                try await Task.sleep(for: .seconds(5))
                return KMSDescribeKeyResponse()
            }
        }
        // One connection: what the client sends arrives in order, and the server starts its
        // handlers in that order, so once it has seen a later request it has seen every earlier one.
        let client = try Self.client(server, timeout: .milliseconds(300), connections: 1)
        await #expect(throws: KMSClientError.self) {
            _ = try await client.call(KMSMethod.createKey, KMSCreateKeyRequest())
        }
        // An idempotent operation is tried again after a timeout: all four attempts.
        await #expect(throws: KMSClientError.self) {
            _ = try await client.call(KMSMethod.describeKey, KMSDescribeKeyRequest())
        }
        while describes.count < 4 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(describes.count == 4)
        #expect(creates.count == 1)
        await client.close()
        await server.close()
    }

    /// As kms-bench calls it (one attempt per call, many callers in a loop) while kmsd is down
    /// (here: a listener that closes every connection it accepts): the reconnects back off,
    /// rather than one per call at the speed of a refused connect.
    @Test func callersLoopingOverADownServerBackOffTheirReconnects() async throws {
        let accepted = Counter()
        let server = try await RPCServer.bind(
            to: SocketAddress(ipAddress: "127.0.0.1", port: 0), table: RPCHandlerTable(), logger: Logger(label: "test"),
            admission: { channel in
                _ = accepted.next()
                return channel.eventLoop.makeFailedFuture(RPCError(code: "Test", message: "down"))
            }
        )
        var configuration = KMSClient.Configuration()
        configuration.maxAttempts = 1
        configuration.connections = 2
        configuration.baseBackoff = .milliseconds(50)
        configuration.maxBackoff = .seconds(2)
        let client = try KMSClient(endpoint: "127.0.0.1:\(server.localAddress!.port!)", configuration: configuration)
        let failures = Counter()
        let started = ContinuousClock.now
        let end = started + .seconds(1)
        // At least a second, and until every caller has failed once: on a loaded machine a
        // second may pass before the first connect is refused.
        await withDiscardingTaskGroup { group in
            for _ in 0..<16 {
                group.addTask {
                    var failedOnce = false
                    while ContinuousClock.now < end || !failedOnce {
                        defer { failedOnce = true }
                        do {
                            _ = try await client.call(KMSMethod.generateRandom, KMSGenerateRandomRequest())
                        } catch let error as KMSClientError where error.code == "ConnectionFailedException" {
                            _ = failures.next()
                        } catch {}
                    }
                }
            }
        }
        // Waits of at least 25, 50, 100, ... ms (equal jitter, capped at 1 s): the rounds that can
        // start within the time the loop took, plus the one under way, each one connect per
        // connection. A slower machine makes fewer. Without backoff: a connect per call.
        let elapsed = ContinuousClock.now - started
        var rounds = 1
        var waited = Duration.zero
        var wait = Duration.milliseconds(25)
        while waited + wait <= elapsed {
            waited += wait
            rounds += 1
            wait = min(wait * 2, .seconds(1))
        }
        #expect(accepted.count >= 1)
        #expect(accepted.count <= 2 * (rounds + 1), "\(accepted.count) connects in \(elapsed)")
        #expect(failures.count >= 16)
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
