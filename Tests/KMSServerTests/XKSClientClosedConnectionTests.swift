import Foundation
import KMSXKS
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A proxy host that drops every connection as soon as it opens: each request fails at once,
/// never waits for ever. (A request written after the connection had closed, and so after its
/// handlers were removed, used to wait for an answer no one would give.)
@Suite struct XKSClientClosedConnectionTests {
    @Test func aConnectionDroppedAsItOpensFailsTheRequest() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in channel.close() }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let client = try XKSClient(
            configuration: XKSClientConfiguration(
                endpoint: "https://127.0.0.1:\(port)", uriPath: "/kms/xks/v1",
                credentials: XKSCredentials(accessKeyID: "ABCDEFGHIJKLMNOPQRST234567", secretAccessKey: [1, 2, 3]),
                region: "us-east-1", connectTimeout: .seconds(2), requestTimeout: .seconds(120)))
        for index in 0..<30 {
            // Far below the request timeout: an answer past this is the wait that never ends. Not a
            // task group, which would wait for that request too: the first to finish decides.
            let ended = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let once = FirstAnswer(continuation)
                Task {
                    let metadata = XKSRequestMetadata(kmsOperation: "KmsHealthCheck", kmsRequestId: "r-\(index)")
                    _ = try? await client.getHealthStatus(requestMetadata: metadata)
                    once.resume(returning: true)
                }
                Task {
                    try? await Task.sleep(for: .seconds(20))
                    once.resume(returning: false)
                }
            }
            #expect(ended, "request \(index) did not end")
            if !ended { break }
        }
        await client.shutdown()
        try await server.close()
    }
}

/// Resumes its continuation with the first answer only.
private final class FirstAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) { self.continuation = Mutex(continuation) }

    func resume(returning value: Bool) { self.continuation.withLock { $0.take() }?.resume(returning: value) }
}
