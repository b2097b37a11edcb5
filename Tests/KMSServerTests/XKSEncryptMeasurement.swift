import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// Times Encrypt on a key in an external key store, with kms-bench against a stack whose store's
/// proxy is FakeXKSProxy (in this process). Not part of the suite: it runs when KMS_XKS_MEASURE
/// names the seconds per run, e.g. KMS_XKS_MEASURE=10 swift test --filter XKSEncryptMeasurement,
/// and prints requests a second and p50/p99 one request at a time, then 16 and 64 at once (past
/// the 16 idle connections kmsd keeps per store). Figures are never asserted; only that no
/// request failed.
@Suite struct XKSEncryptMeasurement {
    static let seconds = ProcessInfo.processInfo.environment["KMS_XKS_MEASURE"].flatMap(Double.init)

    @Test(.enabled(if: Self.seconds != nil)) func encryptOnAKeyInAnExternalKeyStore() async throws {
        let seconds = try #require(Self.seconds)
        let world = try await XKSWorld.start()
        let client = world.stack.client
        let store = try await client.call(
            KMSMethod.createCustomKeyStore, CustomKeyStoreTests.create("bench", endpoint: world.proxy.endpoint)
        ).customKeyStoreID
        _ = try await client.call(
            KMSMethod.connectCustomKeyStore, CustomKeyStoreTests.withID(store) as KMSConnectCustomKeyStoreRequest)
        let key = try await client.call(
            KMSMethod.createKey, XKSStoreKeyTests.keyRequest(store: store, xksKeyID: "external-1")
        ).keyMetadata
        for (connections, inFlight) in [(1, 1), (4, 4), (4, 16)] {
            let run = try await BenchTests.bench(
                [
                    "run", "--endpoint", world.stack.kmsd.endpoint, "--duration", String(seconds), "--warmup", "1",
                    "--json", "--no-progress", "--connections", String(connections), "--in-flight",
                    String(inFlight), "--key-id", key.arn, "--mix", "Encrypt",
                ], env: world.stack.environment)
            #expect(run.status == 0, "\(run.stderr)")
            let report = try #require(run.json)
            let latency = report["latencyMs"] as? [String: Double] ?? [:]
            print(
                "measure: XKS Encrypt, \(connections * inFlight) in flight: "
                    + "\(Int(report["throughput"] as? Double ?? 0)) requests/s, p50 \(latency["p50"] ?? -1) ms, "
                    + "p99 \(latency["p99"] ?? -1) ms, \(report["failed"] ?? "?") failed, "
                    + "\(world.proxy.connections.withLock { $0 }) proxy connections so far")
            #expect(report["failed"] as? Int == 0)
        }
        await world.stop()
    }
}
