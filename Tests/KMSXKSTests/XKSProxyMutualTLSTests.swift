import Foundation
import KMSTestSupport
import KMSXKS
import KMSXKSProxy
import NIOSSL
import Testing

/// Mutual TLS as the spec asks it: a client certificate chained to the configured CA *and*
/// naming an allowed subject (CN or DNS subject alternative name), else no handshake; and
/// test_negative_mtls's bogus certificates (self-signed, expired).
@Suite struct XKSProxyMutualTLSTests {
    @Test func onlyCertificatesOfTheCAWithAnAllowedSubjectGetIn() async throws {
        let fixture = try await XKSProxyFixture.start(mutualTLS: true)
        try await XKSProxyEndToEndTests.stopping(fixture) {
            let directory = fixture.directory
            let aws = "cks.kms.us-east-1.amazonaws.com"
            try await XKSProxyFixture.issue("common-name", subject: "/CN=\(aws)", san: nil, in: directory)
            try await XKSProxyFixture.issue(
                "other-region", subject: "/CN=cks.kms.eu-west-1.amazonaws.com", san: nil, in: directory)
            try await XKSProxyFixture.issue(
                "stranger", subject: "/CN=stranger.example", san: "DNS:stranger.example", in: directory)
            try await XKSProxyFixture.issue(
                "expired", subject: "/CN=\(aws)", san: "DNS:\(aws)", days: -1, in: directory)
            try await XKSProxyFixture.issue(
                "selfsigned", subject: "/CN=\(aws)", san: "DNS:\(aws)", selfSigned: true, in: directory)

            let port = fixture.server.localAddress.port!
            func health(_ name: String?) async -> XKSRawHTTPS.Answer? {
                var raw = XKSRawHTTPS(port: port, caPath: fixture.path("ca.pem"))
                if let name { raw.identity = (fixture.path("\(name).pem"), fixture.path("\(name).key")) }
                return try? await raw.post("health", XKSConformanceTests.health())
            }
            // The subject in the SAN (client.pem: CN=client) or in the CN alone.
            #expect(await health("client")?.status == 200)
            #expect(await health("common-name")?.status == 200)
            for refused in [nil, "other-region", "stranger", "expired", "selfsigned"] {
                #expect(await health(refused) == nil, "\(refused ?? "no certificate")")
            }
        }
    }

    @Test func allowedSubjectsMatchWholeLabels() throws {
        let check = XKSClientSubject(patterns: ["cks.kms.*.amazonaws.com", "Proxy.Example"])
        #expect(check.allows(names: ["cks.kms.eu-west-1.amazonaws.com"]))
        #expect(check.allows(names: ["x", "proxy.example"]))
        #expect(!check.allows(names: ["cks.kms.amazonaws.com", "cks.kms.a.b.amazonaws.com", "cks.kms..amazonaws.com"]))
        #expect(!check.allows(names: ["evil.cks.kms.us-east-1.amazonaws.com", "cks.kms.us-east-1.amazonaws.com.evil"]))
        #expect(!check.allows(names: []))

        var configuration = XKSProxyConfiguration(
            uriPath: "/kms/xks/v1", regions: ["us-east-1", "eu-west-1"],
            credentials: [.init(accessKeyId: XKSProxyFixture.accessKeyID, secretAccessKey: XKSProxyFixture.secret)],
            tls: .init(certificate: "c", privateKey: "k", clientCA: "ca"))
        #expect(
            configuration.allowedClientSubjects == [
                "cks.kms.us-east-1.amazonaws.com", "cks.kms.eu-west-1.amazonaws.com",
            ])
        configuration.regions = nil
        #expect(configuration.allowedClientSubjects == ["cks.kms.*.amazonaws.com"])
        configuration.tls.clientSubjects = ["me.example"]
        #expect(configuration.allowedClientSubjects == ["me.example"])
        configuration.tls.clientSubjects = []
        #expect(throws: XKSProxyConfigurationError.self) { try configuration.validate() }
    }
}
