import Foundation
import KMSProto
import KMSTestSupport
import KMSXKS
import KMSXKSProxy
import Testing

/// GetHealthStatus as a deep check (the spec's SHOULD): an Encrypt through kmsd under the
/// health-check key, its result answered again for a few seconds; DEGRADED when kmsd refuses
/// that key (disabled), UNAVAILABLE when kmsd cannot do it at all (stopped).
@Suite struct XKSProxyHealthTests {
    @Test func healthFollowsWhetherKmsdCanEncrypt() async throws {
        let fixture = try await XKSProxyFixture.start(healthCacheSeconds: 0) { stack in
            let disabled = try await stack.client.call(KMSMethod.createKey, KMSCreateKeyRequest()).keyMetadata.keyID
            var disable = KMSDisableKeyRequest()
            disable.keyID = disabled
            _ = try await stack.client.call(KMSMethod.disableKey, disable)
            return ["a-disabled": disabled]
        }
        try await XKSProxyEndToEndTests.stopping(fixture) {
            let client = try fixture.client()
            defer { Task { await client.shutdown() } }
            func status() async throws -> [String] {
                try await client.getHealthStatus(
                    requestMetadata: XKSRequestMetadata(kmsOperation: "KmsHealthCheck", kmsRequestId: "h")
                ).ekmFleetDetails.map(\.healthStatus)
            }
            func orders(enabled: Bool) async throws {
                if enabled {
                    var enable = KMSEnableKeyRequest()
                    enable.keyID = fixture.keyID
                    _ = try await fixture.stack.client.call(KMSMethod.enableKey, enable)
                } else {
                    var disable = KMSDisableKeyRequest()
                    disable.keyID = fixture.keyID
                    _ = try await fixture.stack.client.call(KMSMethod.disableKey, disable)
                }
            }
            #expect(try await status() == ["ACTIVE"])
            try await orders(enabled: false)
            #expect(try await status() == ["DEGRADED"])
            try await orders(enabled: true)
            #expect(try await status() == ["ACTIVE"])

            // Cached: a result stands for healthCheckCacheSeconds, whatever happens meanwhile.
            var cached = fixture.configuration
            cached.healthCheckCacheSeconds = 60
            fixture.service.replace(cached)
            #expect(try await status() == ["ACTIVE"])
            try await orders(enabled: false)
            #expect(try await status() == ["ACTIVE"])
            try await orders(enabled: true)

            // Without healthCheckKey, the first mapped key by id (here a disabled one).
            var firstKey = fixture.configuration
            firstKey.healthCheckKey = nil
            fixture.service.replace(firstKey)
            #expect(try await status() == ["DEGRADED"])

            // A test key of its own, which the XKS API does not expose.
            let health = try await fixture.stack.client.call(KMSMethod.createKey, KMSCreateKeyRequest()).keyMetadata
            var alias = KMSCreateAliasRequest()
            alias.aliasName = "alias/xks-health"
            alias.targetKeyID = health.keyID
            _ = try await fixture.stack.client.call(KMSMethod.createAlias, alias)
            var own = fixture.configuration
            own.healthCheckKey = "alias/xks-health"
            fixture.service.replace(own)
            try await orders(enabled: false)
            #expect(try await status() == ["ACTIVE"])
            try await orders(enabled: true)
            await #expect {
                _ = try await client.getKeyMetadata(
                    keyID: "xks-health", requestMetadata: XKSProxyFixture.metadata("DescribeKey", keyARN: nil))
            } throws: { XKSProxyEndToEndTests.name($0) == .keyNotFound }

            // kmsd gone: no cryptography, whatever the key.
            fixture.service.replace(fixture.configuration)
            #expect(try await status() == ["ACTIVE"])
            await fixture.stack.kmsd.stop()
            #expect(try await status() == ["UNAVAILABLE"])
        }
    }
}
