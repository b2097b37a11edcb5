import Foundation
import KMSClient
import KMSProto
import KMSStore
import KMSTestSupport
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The service's edges, through real processes: an IPv4 client of a dual-stack listener as seen
/// by conditions and the audit log; kmsd refusing a worker socket served by another user; and
/// TLS to PostgreSQL as libpq's sslmode names it.
@Suite struct EdgeSecurityTests {
    // MARK: - aws:SourceIp on a dual-stack listener

    /// kmsd on [::]; a client on 127.0.0.1. Before, the client was `::ffff:127.0.0.1`: an Allow
    /// on 127.0.0.0/8 did not apply, nor did a Deny on it.
    @Test func anIPv4ClientOfADualStackListenerIsSeenAsIPv4() async throws {
        let database = try await TestDatabase.create()
        let worker = try await WorkerProcess()
        try await worker.start()
        let admin = try await KMSDProcess.bootstrap(databaseURL: database.url, workerSocket: worker.socketPath)
        let kmsd = KMSDProcess(
            databaseURL: database.url, workerSocket: worker.socketPath, directory: worker.directory,
            extraArguments: ["--listen", "[::]:0"])
        try await kmsd.start()
        let port = try #require(kmsd.endpoint.split(separator: ":").last.map(String.init))
        func client(_ credentials: KMSCredentials) throws -> KMSClient {
            var configuration = KMSClient.Configuration()
            configuration.credentials = credentials
            configuration.maxAttempts = 1
            return try KMSClient(endpoint: "127.0.0.1:\(port)", configuration: configuration)
        }
        let adminClient = try client(admin)

        var principal = AdminCreatePrincipalRequest()
        principal.accountID = "111122223333"
        principal.type = "user"
        principal.name = "from-loopback"
        let arn = try await adminClient.call(AdminMethod.createPrincipal, principal).principal.arn
        var policy = AdminPutPrincipalPolicyRequest()
        policy.principalArn = arn
        policy.policyName = "by-address"
        policy.policyDocument = #"""
            {"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":"kms:GenerateRandom","Resource":"*",\#
            "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}},
              {"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"},
              {"Effect":"Deny","Action":"kms:ListKeys","Resource":"*",\#
            "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}
            ]}
            """#
        _ = try await adminClient.call(AdminMethod.putPrincipalPolicy, policy)
        var key = AdminCreateAccessKeyRequest()
        key.principalArn = arn
        let created = try await adminClient.call(AdminMethod.createAccessKey, key)
        let user = try client(
            KMSCredentials(accessKeyID: created.accessKey.accessKeyID, secretAccessKey: created.secretAccessKey))

        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = 8
        #expect(await code { _ = try await user.call(KMSMethod.generateRandom, random) } == nil)
        #expect(
            await code { _ = try await user.call(KMSMethod.listKeys, KMSListKeysRequest()) } == "AccessDeniedException")

        var query = AdminListAuditRecordsRequest()
        query.principalArn = arn
        query.operation = "GenerateRandom"
        let records = try await adminClient.call(AdminMethod.listAuditRecords, query).records
        #expect(records.map(\.sourceIp) == ["127.0.0.1"])

        await adminClient.close()
        await user.close()
        await kmsd.stop()
        await worker.stop()
        await database.drop()
    }

    // MARK: - The worker socket's user

    /// `--worker-uid` names another user than kms-cryptod's: kmsd refuses the worker, and every
    /// call that needs it fails retryable. The same worker, expected as its own uid, serves.
    @Test func kmsdTalksOnlyToAWorkerOfTheExpectedUser() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--worker-uid", "65534"])
        let refused = try stack.kmsd.client(credentials: stack.adminCredentials) { $0.maxAttempts = 1 }
        do {
            _ = try await refused.callerIdentity()
            Issue.record("kmsd used a worker of another uid than the one it was told")
        } catch {
            // The access key's proof needs the worker: the handshake fails, retryable.
            #expect(error.code == "ConnectionFailedException")
            #expect(error.message.contains("DependencyTimeoutException"), "\(error.message)")
        }
        await refused.close()
        let other = try await stack.secondKMSD(arguments: ["--worker-uid", "\(getuid())"])
        let served = try other.client(credentials: stack.adminCredentials)
        #expect(try await served.callerIdentity().arn.hasSuffix(":user/admin"))
        await served.close()
        await other.stop()
        await stack.stop()
    }

    /// The attack of issue 15: kms-cryptod is down and another user binds its socket path.
    /// kmsd connects, sees the listener's uid, and closes without sending a byte, so the
    /// impostor never sees an access key proof or a plaintext. (Needs root, to run the
    /// impostor as nobody; the uid check itself is tested in KMSRPCTests.)
    @Test func anImpostorOnTheWorkerSocketIsSentNothing() async throws {
        guard getuid() == 0 else { return }
        let database = try await TestDatabase.create()
        let worker = try await WorkerProcess()
        try await worker.start()
        let admin = try await KMSDProcess.bootstrap(databaseURL: database.url, workerSocket: worker.socketPath)
        await worker.stop()

        let impostorSocket = worker.directory.appendingPathComponent("i.sock").path
        chmod(worker.directory.path, 0o777)
        let impostor = Process()
        impostor.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        impostor.arguments = ["python3", "-c", Self.impostor, impostorSocket]
        impostor.standardOutput = FileHandle.nullDevice
        impostor.standardError = FileHandle.nullDevice
        try impostor.run()
        // SIGKILL: a child inherits the test's blocked signals, SIGTERM among them.
        defer { if impostor.isRunning { kill(impostor.processIdentifier, SIGKILL) } }
        try await Self.waitForFile(impostorSocket + ".ready")

        let kmsd = KMSDProcess(databaseURL: database.url, workerSocket: impostorSocket, directory: worker.directory)
        try await kmsd.start()
        let client = try kmsd.client(credentials: admin) { $0.maxAttempts = 1 }
        #expect(await code { _ = try await client.callerIdentity() } == "ConnectionFailedException")
        try await Self.waitForFile(impostorSocket + ".result")
        let seen = try String(contentsOfFile: impostorSocket + ".result", encoding: .utf8).split(separator: ",")
        #expect(seen.count == 2 && Int(seen[0]) ?? 0 >= 1 && seen[1] == "0", "connections, bytes: \(seen)")
        await client.close()
        await kmsd.stop()
        await database.drop()
    }

    /// Binds as root, becomes nobody, listens (SO_PEERCRED reports the uid at listen()), and
    /// after each connection writes "connections,bytes received" so far.
    static let impostor = """
        import os, socket, sys
        path = sys.argv[1]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        os.chmod(path, 0o777)
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
        s.listen(16)
        open(path + ".ready", "w").close()
        connections = received = 0
        while True:
            c, _ = s.accept()
            while True:
                chunk = c.recv(65536)
                if not chunk: break
                received += len(chunk)
            c.close()
            connections += 1
            with open(path + ".result.tmp", "w") as f: f.write(f"{connections},{received}")
            os.rename(path + ".result.tmp", path + ".result")
        """

    static func waitForFile(_ path: String) async throws {
        for _ in 0..<800 {
            if FileManager.default.fileExists(atPath: path) { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw WorkerTestError("\(path) never appeared")
    }

    // MARK: - TLS to PostgreSQL

    @Test func sslModesMeanWhatLibpqSays() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ca = directory.appendingPathComponent("ca.pem").path
        try "not checked here".write(toFile: ca, atomically: true, encoding: .utf8)
        #expect(try DatabaseTLS(sslmode: nil, sslrootcert: nil) == DatabaseTLS(sslmode: "prefer", sslrootcert: nil))
        #expect(try DatabaseTLS(sslmode: "prefer", sslrootcert: nil).verification == .none)
        #expect(try DatabaseTLS(sslmode: "disable", sslrootcert: nil).verification == .none)
        #expect(try DatabaseTLS(sslmode: "require", sslrootcert: nil).verification == .none)
        #expect(try DatabaseTLS(sslmode: "require", sslrootcert: ca).verification == .chain(rootCertificate: ca))
        #expect(try DatabaseTLS(sslmode: "verify-ca", sslrootcert: ca).verification == .chain(rootCertificate: ca))
        #expect(try DatabaseTLS(sslmode: "verify-full", sslrootcert: ca).verification == .full(rootCertificate: ca))
        #expect(try DatabaseTLS(sslmode: "verify-full", sslrootcert: nil).verification == .full(rootCertificate: nil))
        #expect(
            try DatabaseTLS(sslmode: "verify-full", sslrootcert: "system").verification == .full(rootCertificate: nil))
        // A typo is not a quiet `prefer`; verify-ca needs its CA; the system's CAs prove no name
        // without verify-full; a CA file that is not there is said at once.
        for (mode, root) in [
            ("verify_full", nil), ("allow", nil), ("VERIFY-FULL", nil), ("verify-ca", nil),
            ("verify-ca", "system"), ("require", "system"), ("verify-full", "/nonexistent/ca.pem"),
        ] as [(String, String?)] {
            #expect(throws: DatabaseConfiguration.InvalidURL.self, "\(mode) \(root ?? "-")") {
                try DatabaseTLS(sslmode: mode, sslrootcert: root)
            }
        }
        #expect(throws: DatabaseConfiguration.InvalidURL.self) {
            try DatabaseConfiguration.parse(url: "postgres://u:p@db.internal/kms?sslmode=verify-fulll")
        }
    }

    /// A fake PostgreSQL that accepts the SSLRequest and completes TLS handshakes: which
    /// sslmode/sslrootcert/host combinations get through TLS, with a certificate for IP
    /// 127.0.0.1 and one for the name localhost (both from TLSTests' CA). The client sends its
    /// startup message only once it has accepted the certificate, so that is what counts.
    /// (NIOSSL also accepts an IP SAN equal to the address connected to, whatever the name.)
    @Test func verifyFullChecksTheChainAndTheName() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await TLSTests.makeCertificates(in: directory, clients: [:])
        try await Self.openssl(
            in: directory,
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=db",
                "-keyout", "db.key", "-out", "db.csr",
            ])
        try "subjectAltName=DNS:localhost\n".write(
            to: directory.appendingPathComponent("db.ext"), atomically: true, encoding: .utf8)
        try await Self.openssl(
            in: directory,
            [
                "x509", "-req", "-in", "db.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "db.ext", "-out", "db.pem",
            ])
        let other = directory.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try await TLSTests.makeCertificates(in: other, clients: [:])
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let ca = path("ca.pem")
        let wrongCA = other.appendingPathComponent("ca.pem").path

        let byIP = (certificate: path("server.pem"), key: path("server.key"))
        let byName = (certificate: path("db.pem"), key: path("db.key"))
        // A server of its own per check: a refused client's pool retries, and a retry of one
        // check that arrives late must not be taken for the next check's handshake.
        func handshake(_ identity: (certificate: String, key: String), _ host: String, _ query: String) async throws
            -> Bool
        {
            let server = try await FakeTLSPostgres.start(certificate: identity.certificate, key: identity.key)
            let configuration = try DatabaseConfiguration.parse(
                url: "postgres://u:p@\(host):\(server.port)/kms?\(query)", maximumConnections: 1)
            let outcome = try await server.firstHandshake(of: PostgresClient(configuration: configuration))
            await server.close()
            return outcome
        }
        #expect(try await handshake(byIP, "127.0.0.1", "sslmode=verify-full&sslrootcert=\(ca)"))
        #expect(try await handshake(byName, "localhost", "sslmode=verify-full&sslrootcert=\(ca)"))
        #expect(
            try await !handshake(byName, "127.0.0.1", "sslmode=verify-full&sslrootcert=\(ca)"),
            "the name is not checked")
        #expect(
            try await !handshake(byIP, "127.0.0.1", "sslmode=verify-full&sslrootcert=\(wrongCA)"),
            "the chain is not checked")
        #expect(try await !handshake(byIP, "127.0.0.1", "sslmode=verify-full"), "a private CA passed as a system one")
        #expect(try await handshake(byName, "127.0.0.1", "sslmode=verify-ca&sslrootcert=\(ca)"))
        #expect(try await !handshake(byName, "127.0.0.1", "sslmode=verify-ca&sslrootcert=\(wrongCA)"))
        #expect(try await handshake(byName, "127.0.0.1", "sslmode=require"))
        #expect(try await !handshake(byName, "127.0.0.1", "sslmode=require&sslrootcert=\(wrongCA)"))
        #expect(try await handshake(byName, "127.0.0.1", "sslmode=prefer"))
    }

    /// Off the cooperative pool (`runChildProcess`), as every child process of the tests.
    static func openssl(in directory: URL, _ arguments: [String]) async throws {
        let result = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["openssl"] + arguments, currentDirectory: directory)
        guard result.status == 0 else {
            throw WorkerTestError("openssl \(arguments.first ?? "") failed: \(result.stderrText.suffix(500))")
        }
    }

    /// A server that declines TLS ('N' to the SSLRequest): only `disable` and `prefer` go on
    /// in plaintext; `require` and the verify modes close the connection instead.
    @Test func aRequiredTLSIsNeverDowngraded() async throws {
        let server = try await FakeTLSPostgres.start(certificate: nil, key: nil)
        defer { Task { await server.close() } }
        func continuesInPlaintext(_ query: String) async throws -> Bool {
            let configuration = try DatabaseConfiguration.parse(
                url: "postgres://u:p@127.0.0.1:\(server.port)/kms?\(query)", maximumConnections: 1)
            return try await server.firstHandshake(of: PostgresClient(configuration: configuration))
        }
        #expect(try await continuesInPlaintext("sslmode=prefer"))
        #expect(try await !continuesInPlaintext("sslmode=require"))
        #expect(try await !continuesInPlaintext("sslmode=verify-full"))
    }

    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kms-edge-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}

/// Answers PostgreSQL's SSLRequest with 'S', then runs the TLS handshake and records whether the
/// client went on to send its startup message (it does only once it accepts the certificate);
/// nothing after that.
/// Without a certificate it answers 'N' (no TLS here) and records whether the client goes on
/// in plaintext.
final class FakeTLSPostgres: Sendable {
    let channel: any Channel
    let outcomes = Mutex<[Bool]>([])

    var port: Int { self.channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func start(certificate: String?, key: String?) async throws -> FakeTLSPostgres {
        var context: NIOSSLContext?
        if let certificate, let key {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            )
            configuration.minimumTLSVersion = .tlsv12
            context = try NIOSSLContext(configuration: configuration)
        }
        let box = Mutex<FakeTLSPostgres?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        SSLRequestHandler(context: context) { completed in
                            box.withLock { $0 }?.outcomes.withLock { $0.append(completed) }
                        })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = FakeTLSPostgres(channel: channel)
        box.withLock { $0 = server }
        return server
    }

    /// Runs `client` until the server has seen one connection's outcome: whether the client
    /// sent its startup message over TLS (or, declining TLS, in plaintext).
    func firstHandshake(of client: PostgresClient) async throws -> Bool {
        let before = self.outcomes.withLock { $0.count }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            for _ in 0..<800 {
                if let outcome = self.outcomes.withLock({ $0.count > before ? $0[before] : nil }) { return outcome }
                try await Task.sleep(for: .milliseconds(25))
            }
            throw WorkerTestError("the client never tried to connect")
        }
    }

    func close() async {
        try? await self.channel.close()
    }

    final class SSLRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        enum State { case waiting, upgraded, declined }
        let context: NIOSSLContext?
        let report: @Sendable (Bool) -> Void
        var buffer = ByteBuffer()
        var state = State.waiting
        var reported = false

        init(context: NIOSSLContext?, report: @escaping @Sendable (Bool) -> Void) {
            self.context = context
            self.report = report
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.state {
            case .upgraded:
                // The client's startup message, sent only once it has accepted the certificate
                // (NIOSSL checks the name after the handshake itself has completed).
                self.finish(true)
                context.close(promise: nil)
                return
            case .declined:
                // Bytes after our 'N': the client went on without TLS.
                self.finish(true)
                context.close(promise: nil)
                return
            case .waiting:
                break
            }
            var incoming = Self.unwrapInboundIn(data)
            self.buffer.writeBuffer(&incoming)
            guard self.buffer.readableBytes >= 8 else { return }
            // Length 8, code 80877103: the SSLRequest.
            guard self.buffer.readInteger(as: UInt32.self) == 8, self.buffer.readInteger(as: UInt32.self) == 80_877_103
            else {
                context.close(promise: nil)
                return
            }
            guard let tls = self.context else {
                self.state = .declined
                context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: "N")), promise: nil)
                return
            }
            self.state = .upgraded
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: "S")), promise: nil)
            try? context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .before(self))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            if self.state != .waiting { self.finish(false) }
            context.fireChannelInactive()
        }

        private func finish(_ outcome: Bool) {
            guard !self.reported else { return }
            self.reported = true
            self.report(outcome)
        }
    }
}
