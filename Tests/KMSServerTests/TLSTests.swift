import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// kmsd over TLS, and mutual TLS mapping a workload's SPIFFE id to a role: certificates made
/// by openssl, as an operator (or cert-manager / SPIRE) would make them.
@Suite struct TLSTests {
    /// A CA, a server certificate for 127.0.0.1, and client certificates with the given URI SANs.
    static func makeCertificates(in directory: URL, clients: [String: String]) async throws {
        func openssl(_ arguments: [String]) async throws {
            try await EdgeSecurityTests.openssl(in: directory, arguments)
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try await openssl(
            ["req", "-x509"] + ec + [
                "-days", "2", "-subj", "/CN=test CA", "-keyout", "ca.key", "-out", "ca.pem",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            ])
        var leaves = ["server": "IP:127.0.0.1"]
        for (name, uri) in clients { leaves[name] = "URI:\(uri)" }
        for (name, san) in leaves {
            try await openssl(["req"] + ec + ["-subj", "/CN=\(name)", "-keyout", "\(name).key", "-out", "\(name).csr"])
            try "subjectAltName=\(san)\n".write(
                to: directory.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
            try await openssl([
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "\(name).ext", "-out", "\(name).pem",
            ])
        }
    }

    @Test func tlsWithAccessKeysAndMutualTLSWithASPIFFEIdentity() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kms-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await Self.makeCertificates(
            in: directory,
            clients: [
                "api": "spiffe://cluster.local/ns/payments/sa/api",
                "stranger": "spiffe://elsewhere/ns/x/sa/y",
            ])
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let trust = KMSClient.TLS(caBundlePath: path("ca.pem"))
        let stack = try await KMSStack.start(
            kmsdArguments: [
                "--tls-certificate", path("server.pem"), "--tls-key", path("server.key"), "--tls-client-ca",
                path("ca.pem"),
                "--certificate-principal",
                "spiffe://cluster.local/ns/payments/*=arn:aws:iam::111122223333:role/payments-api",
            ], tls: trust)

        // Access keys over TLS; aws:SecureTransport is true.
        let (_, secure) = try await stack.principal(
            "secure",
            policies: [
                "tls-only":
                    #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:GenerateRandom","#
                    + #""Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#
            ])
        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = 16
        #expect(try await secure.call(KMSMethod.generateRandom, random).plaintext.count == 16)

        // The workload's certificate is its identity: no access key at all.
        var role = AdminCreatePrincipalRequest()
        role.accountID = "111122223333"
        role.type = "role"
        role.name = "payments-api"
        _ = try await stack.client.call(AdminMethod.createPrincipal, role)
        let workload = try stack.kmsd.client(credentials: nil) {
            $0.tls = KMSClient.TLS(
                caBundlePath: path("ca.pem"), certificatePath: path("api.pem"), privateKeyPath: path("api.key"))
        }
        let identity = try await workload.callerIdentity()
        #expect(identity.arn == "arn:aws:iam::111122223333:role/payments-api")
        #expect(identity.accessKeyID.isEmpty)
        // A verified certificate that maps to nobody, and no certificate at all, get nothing.
        let stranger = try stack.kmsd.client(credentials: nil) {
            $0.tls = KMSClient.TLS(
                caBundlePath: path("ca.pem"), certificatePath: path("stranger.pem"),
                privateKeyPath: path("stranger.key"))
            $0.maxAttempts = 1
        }
        #expect(await code { _ = try await stranger.callerIdentity() } == "MissingAuthenticationTokenException")
        // A client that does not trust the server's CA does not get through the TLS handshake.
        let untrusting = try stack.kmsd.client(credentials: stack.adminCredentials) {
            $0.tls = KMSClient.TLS()
            $0.maxAttempts = 1
        }
        #expect(await code { _ = try await untrusting.callerIdentity() } == "ConnectionFailedException")
        await stack.stop()
    }
}
