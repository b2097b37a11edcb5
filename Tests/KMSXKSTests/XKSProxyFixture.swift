import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import KMSXKS
import KMSXKSProxy
import Logging
import NIOSSL

/// A real stack (PostgreSQL, kms-cryptod, kmsd) with kms-xks-proxy in process in front of it,
/// the proxy calling kmsd as its own principal, and certificates made by openssl.
final class XKSProxyFixture: @unchecked Sendable {
    static let accessKeyID = "XKSPROXYTESTKEY2345ABCDEF"
    static let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
    static let uriPath = "/tenant-a/kms/xks/v1"

    let stack: KMSStack
    let directory: URL
    let proxyPrincipal: String
    let configuration: XKSProxyConfiguration
    let service: XKSProxyService
    let server: XKSProxyServer
    let backendClient: KMSClient
    /// Our key exposed as `orders`.
    let keyID: String

    private init(
        stack: KMSStack, directory: URL, proxyPrincipal: String, configuration: XKSProxyConfiguration,
        service: XKSProxyService, server: XKSProxyServer, backendClient: KMSClient, keyID: String
    ) {
        self.stack = stack
        self.directory = directory
        self.proxyPrincipal = proxyPrincipal
        self.configuration = configuration
        self.service = service
        self.server = server
        self.backendClient = backendClient
        self.keyID = keyID
    }

    func path(_ name: String) -> String { self.directory.appendingPathComponent(name).path }

    /// `keys` maps more XKS key ids (to key ids made by `extraKeys` after the stack starts);
    /// `healthCacheSeconds` is the configuration's healthCheckCacheSeconds.
    static func start(
        mutualTLS: Bool = false, healthCacheSeconds: Int? = nil,
        extraKeys: (KMSStack) async throws -> [String: String] = { _ in [:] }
    ) async throws -> XKSProxyFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kms-xks-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await Self.makeCertificates(in: directory)
        let stack = try await KMSStack.start()
        let (principal, client) = try await stack.principal(
            "xks-proxy",
            policies: [
                "xks": #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","#
                    + #""Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}"#
            ])
        var create = KMSCreateKeyRequest()
        create.description_p = "xks orders"
        let keyID = try await stack.client.call(KMSMethod.createKey, create).keyMetadata.keyID
        var keys = ["orders": keyID]
        for (name, target) in try await extraKeys(stack) { keys[name] = target }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let configuration = XKSProxyConfiguration(
            uriPath: Self.uriPath, regions: ["us-east-1"],
            credentials: [.init(accessKeyId: Self.accessKeyID, secretAccessKey: Self.secret)], keys: keys,
            passThroughKeyIds: false,
            tls: .init(
                certificate: path("server.pem"), privateKey: path("server.key"),
                clientCA: mutualTLS ? path("ca.pem") : nil),
            healthCheckKey: keyID, healthCheckCacheSeconds: healthCacheSeconds)
        try configuration.validate()
        var logger = Logger(label: "kms-xks-proxy-test")
        logger.logLevel = .warning
        let service = XKSProxyService(
            configuration: configuration, backend: XKSProxyBackend(client: client), logger: logger)
        let server = try await XKSProxyServer.start(
            host: "127.0.0.1", port: 0, configuration: configuration, service: service)
        return XKSProxyFixture(
            stack: stack, directory: directory, proxyPrincipal: principal, configuration: configuration,
            service: service, server: server, backendClient: client, keyID: keyID)
    }

    /// A client of the proxy; `clientCertificate` presents client.pem.
    func client(
        accessKeyID: String = accessKeyID, secret: String = secret, clientCertificate: Bool = false
    ) throws -> XKSClient {
        let identity =
            clientCertificate
            ? XKSClientConfiguration.Identity(
                certificateChain: [.file(self.path("client.pem"))],
                privateKey: .privateKey(try NIOSSLPrivateKey(file: self.path("client.key"), format: .pem)))
            : nil
        return try XKSClient(
            configuration: XKSClientConfiguration(
                endpoint: "https://127.0.0.1:\(self.server.localAddress.port!)", uriPath: Self.uriPath,
                credentials: XKSCredentials(accessKeyID: accessKeyID, secretAccessKey: Array(secret.utf8)),
                region: "us-east-1", trustRoots: .file(self.path("ca.pem")), identity: identity,
                requestTimeout: .seconds(30)))
    }

    func stop() async {
        try? await self.server.close()
        await self.backendClient.close()
        await self.stack.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// A CA, a server certificate for 127.0.0.1 and a client certificate, all P-256.
    static func makeCertificates(in directory: URL) async throws {
        try await Self.openssl(
            ["req", "-x509"] + Self.ec + [
                "-days", "2", "-subj", "/CN=xks test CA", "-keyout", "ca.key", "-out", "ca.pem",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            ], in: directory)
        try await Self.issue("server", subject: "/CN=server", san: "IP:127.0.0.1", in: directory)
        try await Self.issue("client", subject: "/CN=client", san: "DNS:cks.kms.us-east-1.amazonaws.com", in: directory)
    }

    static let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    static func openssl(_ arguments: [String], in directory: URL) async throws {
        let result = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["openssl"] + arguments, currentDirectory: directory)
        guard result.status == 0 else {
            throw WorkerTestError("openssl \(arguments.first ?? "") failed: \(result.stderrText.suffix(500))")
        }
    }

    /// `name`.pem and `name`.key: a certificate for `subject` (and `san`, if any) issued by the
    /// fixture's CA for `days` (negative: expired), or signed by its own key.
    static func issue(
        _ name: String, subject: String, san: String?, days: Int = 2, selfSigned: Bool = false, in directory: URL
    ) async throws {
        if selfSigned {
            try await Self.openssl(
                ["req", "-x509"] + Self.ec + [
                    "-days", "\(days)", "-subj", subject, "-keyout", "\(name).key", "-out", "\(name).pem",
                ] + (san.map { ["-addext", "subjectAltName=\($0)"] } ?? []), in: directory)
            return
        }
        try await Self.openssl(
            ["req"] + Self.ec + ["-subj", subject, "-keyout", "\(name).key", "-out", "\(name).csr"], in: directory)
        var extensions = ["-days", "\(days)"]
        if let san {
            try "subjectAltName=\(san)\n".write(
                to: directory.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
            extensions += ["-extfile", "\(name).ext"]
        }
        try await Self.openssl(
            ["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"]
                + extensions + ["-out", "\(name).pem"], in: directory)
    }

    static func metadata(_ operation: String, keyARN: String? = "arn:aws:kms:us-east-1:111122223333:key/xks")
        -> XKSRequestMetadata
    {
        XKSRequestMetadata(
            awsPrincipalArn: "arn:aws:iam::123456789012:user/Alice", kmsKeyArn: keyARN, kmsOperation: operation,
            kmsRequestId: "req-\(UUID().uuidString.prefix(8))")
    }
}
