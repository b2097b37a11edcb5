import Foundation
import KMSXKS
import NIOSSL
import Testing

/// XKSClient's connection bound against FakeXKSProxy: requests in flight past it wait for a
/// connection instead of opening one each, and all are served.
@Suite struct XKSConnectionPoolTests {
    @Test func requestsPastTheBoundWaitForAConnection() async throws {
        let directory = try await XKSWorld.certificates()
        defer { try? FileManager.default.removeItem(at: directory) }
        let proxy = try await XKSWorld.proxy(in: directory)
        let client = try XKSClient(
            configuration: XKSClientConfiguration(
                endpoint: proxy.endpoint, uriPath: "/kms/xks/v1", credentials: proxy.credentials.withLock { $0 },
                region: proxy.region,
                trustRoots: .file(directory.appendingPathComponent("ca.pem").path),
                requestTimeout: .seconds(10), maxIdleConnections: 3, maxConnections: 3))
        let served = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let metadata = XKSRequestMetadata(kmsOperation: "Encrypt", kmsRequestId: "request-\(index)")
                    return (try? await client.getHealthStatus(requestMetadata: metadata)) != nil
                }
            }
            var served = 0
            for await answered in group where answered { served += 1 }
            return served
        }
        #expect(served == 40)
        #expect(proxy.connections.withLock { $0 } <= 3)
        await client.shutdown()
        await proxy.stop()
    }
}
