import Foundation
import KMSTestSupport
import KMSXKS

/// A stack whose kmsd trusts the CA of a fake XKS proxy (FakeXKSProxy) that accepts
/// CustomKeyStoreTests' credential: custom key stores are checked with their proxy when they are
/// created or their proxy settings change, as at AWS.
struct XKSWorld {
    let directory: URL
    let proxy: FakeXKSProxy
    let stack: KMSStack

    static func certificates() async throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kms-xks-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await TLSTests.makeCertificates(in: directory, clients: [:])
        return directory
    }

    static func proxy(in directory: URL) async throws -> FakeXKSProxy {
        try await FakeXKSProxy.start(
            certificate: directory.appendingPathComponent("server.pem").path,
            key: directory.appendingPathComponent("server.key").path,
            credentials: XKSCredentials(
                accessKeyID: CustomKeyStoreTests.accessKeyID, secretAccessKey: Array(CustomKeyStoreTests.secret.utf8)))
    }

    static func start(kmsdArguments: [String] = []) async throws -> XKSWorld {
        let directory = try await Self.certificates()
        let proxy = try await Self.proxy(in: directory)
        let stack = try await KMSStack.start(
            kmsdArguments: ["--xks-ca-file", directory.appendingPathComponent("ca.pem").path] + kmsdArguments)
        return XKSWorld(directory: directory, proxy: proxy, stack: stack)
    }

    func path(_ name: String) -> String { self.directory.appendingPathComponent(name).path }

    func stop() async {
        await self.stack.stop()
        await self.proxy.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }
}
