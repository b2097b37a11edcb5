import Foundation
import KMSClient
import KMSTestSupport
import KMSXKSProxy
import Testing

/// SigV4 credential rotation without a restart (the spec's "SigV4 credentials rotation"): the
/// kms-xks-proxy binary reloads its configuration file on SIGHUP, or when it sees the file
/// changed, whole or not at all.
enum XKSProxyReloadTests {
    static let newAccessKeyID = "XKSROTATEDKEY234567ABCDEF"
    static let newSecret = "bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQtbmV3LXM="

    /// Run on a running proxy (XKSConformanceTests starts it, to share its stack).
    static func rotate(_ proxy: XKSProxyProcess, raw: XKSRawHTTPS, fixture: XKSProxyFixture) async throws {
        let health = XKSConformanceTests.health()
        #expect(try await raw.post("health", health).status == 200)
        #expect(try await raw.post("health", health, accessKeyID: newAccessKeyID, secret: newSecret).status == 401)

        // Step 1 of the spec's sequence: both keys at once.
        var both = fixture.configuration
        both.credentials.append(.init(accessKeyId: newAccessKeyID, secretAccessKey: newSecret))
        try XKSProxyProcess.write(both, to: proxy.configPath)
        proxy.hangUp()
        #expect(await proxy.waitForLog("configuration reloaded"))
        #expect(try await raw.post("health", health).status == 200)
        #expect(try await raw.post("health", health, accessKeyID: newAccessKeyID, secret: newSecret).status == 200)

        // Step 4: the old key goes.
        var rotated = fixture.configuration
        rotated.credentials = [.init(accessKeyId: newAccessKeyID, secretAccessKey: newSecret)]
        rotated.keys?["again"] = fixture.keyID
        try XKSProxyProcess.write(rotated, to: proxy.configPath)
        proxy.hangUp()
        #expect(await proxy.waitForLog("configuration reloaded", count: 2))
        let old = try await raw.post("health", health)
        #expect(old.status == 401 && old.errorName == "AuthenticationFailedException")
        #expect(try await raw.post("health", health, accessKeyID: newAccessKeyID, secret: newSecret).status == 200)
        // The mapping came with it.
        let metadata = "{\(XKSConformanceTests.metadata("DescribeKey"))}"
        #expect(
            try await raw.post("keys/again/metadata", metadata, accessKeyID: newAccessKeyID, secret: newSecret).status
                == 200)

        // A file that does not load changes nothing, and its reason in the log names no secret.
        let brokenSecret = "YnJva2VuLXNlY3JldC1icm9rZW4tc2VjcmV0LWJyb2tlbi1zZWNyZXQ="
        let broken =
            #"{"credentials":[{"accessKeyId":"XKSBROKENKEY234567ABCDEF","secretAccessKey":"\#(brokenSecret)"}],"#
            + #""tls":{"certificate":"x","privateKey":"y"}}"#
        try XKSProxyProcess.write(Array(broken.utf8), to: proxy.configPath)
        proxy.hangUp()
        #expect(await proxy.waitForLog("configuration not reloaded"))
        var tooShort = rotated
        tooShort.credentials = [.init(accessKeyId: "XKSBROKENKEY234567ABCDEF", secretAccessKey: "short-secret")]
        try XKSProxyProcess.write(tooShort, to: proxy.configPath)
        proxy.hangUp()
        #expect(await proxy.waitForLog("configuration not reloaded", count: 2))
        #expect(try await raw.post("health", health, accessKeyID: newAccessKeyID, secret: newSecret).status == 200)
        #expect(
            try await raw.post("health", health, accessKeyID: "XKSBROKENKEY234567ABCDEF", secret: brokenSecret).status
                == 401)
        let log = proxy.log
        for secret in [XKSProxyFixture.secret, newSecret, brokenSecret, "short-secret"] {
            #expect(!log.contains(secret))
        }
        #expect(log.contains("'uriPath' is missing"))
        // The same bytes again: nothing to reload.
        try XKSProxyProcess.write(rotated, to: proxy.configPath)
        proxy.hangUp()
        #expect(await proxy.waitForLog("configuration reloaded", count: 3))
        try XKSProxyProcess.write(rotated, to: proxy.configPath)
        proxy.hangUp()
        // Signals are handled in order: once the next content is loaded, the SIGHUP before it was
        // handled too, and it loaded nothing.
        rotated.fleetSize = 2
        try XKSProxyProcess.write(rotated, to: proxy.configPath)
        proxy.hangUp()
        #expect(await proxy.waitForLog("configuration reloaded", count: 4))
        #expect(proxy.log.components(separatedBy: "configuration reloaded").count - 1 == 4)

        try await Self.poll(raw: raw, fixture: fixture, kmsdCredentials: proxy.kmsdCredentials)
    }

    /// Without SIGHUP: a proxy that looks at its file every second sees it changed.
    static func poll(raw: XKSRawHTTPS, fixture: XKSProxyFixture, kmsdCredentials: KMSCredentials) async throws {
        let proxy = try await XKSProxyProcess.start(
            fixture.configuration, fixture: fixture, pollSeconds: 1, kmsdCredentials: kmsdCredentials)
        do {
            let raw = XKSRawHTTPS(port: proxy.port, caPath: raw.caPath)
            let health = XKSConformanceTests.health()
            var rotated = fixture.configuration
            rotated.credentials = [.init(accessKeyId: newAccessKeyID, secretAccessKey: newSecret)]
            try XKSProxyProcess.write(rotated, to: proxy.configPath)
            #expect(await proxy.waitForLog("configuration reloaded"))
            #expect(try await raw.post("health", health).status == 401)
            #expect(try await raw.post("health", health, accessKeyID: newAccessKeyID, secret: newSecret).status == 200)
        } catch {
            await proxy.stop()
            throw error
        }
        await proxy.stop()
    }
}
